import { describe, expect, test } from "bun:test";
import { probeAdmissionFence } from "../../src/driver/admission-fence";
import { admissionFenceCheck } from "../../src/doctor/admission-fence-check";
import { KubeApiError, type KubeClient } from "../../src/kube";
import type { Config } from "../../src/config";
import { makeSettings } from "./fixtures";

interface Sent {
  path: string;
  query?: Record<string, string>;
  body: { metadata: { generateName?: string; name?: string } };
}

function apiAnswering(status: number): { client: KubeClient; sent: Sent[] } {
  const sent: Sent[] = [];
  const client = {
    request: async (req: Sent & { verb: string; resource: string }) => {
      sent.push(req);
      if (status < 300) return {};
      throw new KubeApiError({ status, reason: "Forbidden", verb: req.verb, resource: req.resource, detail: 'ValidatingAdmissionPolicy \'openshell-driver-managed-namespaces\' denied request' });
    },
  } as unknown as KubeClient;
  return { client, sent };
}

const settings = { namespace: "openshell-system", gatewayId: "gw" };

describe("the managed-mode admission fence is tried, not read", () => {
  test("the probe is a server-side dry run (nothing stored) with a generated name, in the driver's namespace", async () => {
    const { client, sent } = apiAnswering(403);
    expect(await probeAdmissionFence(client, settings)).toMatchObject({ fenced: true });
    expect(sent[0]).toMatchObject({ path: "/api/v1/namespaces/openshell-system/secrets", query: { dryRun: "All" } });
    expect(sent[0]!.body.metadata.generateName).toBe("openshell-admission-probe-");
    expect(sent[0]!.body.metadata.name).toBeUndefined();
  });

  test("a dry-run write that is admitted means nothing confines the identity", async () => {
    expect(await probeAdmissionFence(apiAnswering(201).client, settings)).toEqual({ fenced: false, namespace: "openshell-system" });
  });

  test("doctor fails in managed mode when the write is admitted, naming the manifest to apply", async () => {
    const config = { render: makeSettings({ workspaceMode: "managed", namespace: "openshell-system" }) } as unknown as Config;
    const result = await admissionFenceCheck({ client: apiAnswering(201).client, config });
    expect(result.status).toBe("FAIL");
    expect(result.fix).toContain("deploy/rbac-managed.yaml");
    expect((await admissionFenceCheck({ client: apiAnswering(403).client, config })).status).toBe("PASS");
  });

  test("outside managed mode there is nothing to fence and nothing is asked", async () => {
    const { client, sent } = apiAnswering(201);
    const config = { render: makeSettings({ workspaceMode: "shared" }) } as unknown as Config;
    expect((await admissionFenceCheck({ client, config })).status).toBe("PASS");
    expect(sent).toEqual([]);
  });
});
