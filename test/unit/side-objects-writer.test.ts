// What a platform adds beside a sandbox after its CR is created: owned by the CR, never the reason
// a create fails (a Warning event says what went wrong instead), and the ServiceAccount
// annotations it needs added after create and taken away after delete.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { SandboxDriver } from "../../src/driver/driver";
import { ownerReferenceTo, sideObjectLabels } from "../../src/platform/side-objects";
import type { PlatformAdapter, SideObject } from "../../src/platform/types";
import type { SandboxResource } from "../../src/sandbox";
import { FakeSandboxApi } from "./fake-sandbox-api";
import { makeSandbox, makeSettings, keptPodFeatures } from "./fixtures";
import { plainKubernetes } from "./platform-fixtures";

const SERVICES = "/api/v1/namespaces/openshell/services";
const SERVICE_ACCOUNT = "/api/v1/namespaces/openshell/serviceaccounts/openshell-sandbox";

/** Plain Kubernetes plus one Service beside each sandbox and one ServiceAccount annotation. */
function exposingPlatform(): PlatformAdapter {
  const plain = plainKubernetes();
  return {
    identity: { name: "openshift", evidence: "test", version: "" },
    checksNamespace: false,
    preflight: () => plain.preflight(),
    amend: (resource, target) => plain.amend(resource, target),
    checkSandbox: (resource, target) => plain.checkSandbox(resource, target),
    checkNamespace: (target) => plain.checkNamespace(target),
    namespaceLabels: () => ({}),
    sideObjects: (created: SandboxResource): SideObject[] => [
      {
        path: SERVICES,
        resource: "services",
        body: {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: `sb-${created.metadata.name}`, namespace: "openshell", labels: sideObjectLabels(created), ownerReferences: [ownerReferenceTo(created)] },
        },
      },
    ],
    serviceAccountAnnotations: (created: SandboxResource) => ({ [`example.test/route.${created.metadata.name}`]: "yes" }),
  };
}

let api: FakeSandboxApi;
let driver: SandboxDriver;

beforeEach(async () => {
  api = new FakeSandboxApi();
  await api.start();
  driver = new SandboxDriver({ client: api.client(2000), settings: makeSettings(), platform: exposingPlatform(), podFeatures: keptPodFeatures(), stopTimeoutMs: 5000 });
});

afterEach(async () => {
  await api.close();
});

function writesTo(path: string) {
  return api.otherWrites.filter((w) => w.path === path);
}

describe("objects beside a sandbox", () => {
  test("are created after the CR, owned by it, and the ServiceAccount gets the sandbox's annotations", async () => {
    await driver.create(makeSandbox());
    const cr = [...api.sandboxes.values()][0]!;
    const [service] = writesTo(SERVICES);
    expect(service?.body.metadata.ownerReferences).toEqual([{ apiVersion: "agents.x-k8s.io/v1beta1", kind: "Sandbox", name: "alice--demo", uid: (cr.metadata as any).uid }]);
    expect(service?.body.metadata.labels["openshell.ai/sandbox-id"]).toBe("sb-0123456789abcdef");
    expect(writesTo(SERVICE_ACCOUNT)).toEqual([
      { method: "PATCH", path: SERVICE_ACCOUNT, body: { metadata: { annotations: { "example.test/route.alice--demo": "yes" } } } },
    ]);
  });

  test("that cannot be created do not fail the create: a Warning event ExposureFailed on the CR says which failed and why", async () => {
    api.fail = (req) => (req.method === "POST" && req.resource === "other" ? 403 : undefined);
    await driver.create(makeSandbox());
    expect(api.sandboxes.size).toBe(1);
    const events = api.otherWrites.filter((w) => w.path.endsWith("/events"));
    expect(events).toHaveLength(1);
    const event = events[0]!.body;
    expect({ type: event.type, reason: event.reason, involved: event.involvedObject.name, kind: event.involvedObject.kind }).toEqual({
      type: "Warning",
      reason: "ExposureFailed",
      involved: "alice--demo",
      kind: "Sandbox",
    });
    expect(event.message).toContain('services "sb-alice--demo"');
    expect(event.message).toContain("forbidden");
  });

  test("already there (a retried create) is not a failure: no Warning event", async () => {
    api.fail = (req) => (req.method === "POST" && req.resource === "other" ? 409 : undefined);
    await driver.create(makeSandbox());
    expect(api.otherWrites.filter((w) => w.path.endsWith("/events"))).toEqual([]);
  });

  test("an idempotent retry of the create makes what is missing again", async () => {
    await driver.create(makeSandbox());
    await driver.create(makeSandbox());
    expect(writesTo(SERVICES)).toHaveLength(2);
  });

  test("deleting the sandbox removes its ServiceAccount annotations; the owned objects are the garbage collector's", async () => {
    await driver.create(makeSandbox());
    await driver.deleteSandbox("sb-0123456789abcdef");
    const patches = writesTo(SERVICE_ACCOUNT).map((w) => w.body.metadata.annotations);
    expect(patches).toEqual([{ "example.test/route.alice--demo": "yes" }, { "example.test/route.alice--demo": null }]);
    expect(api.otherWrites.filter((w) => w.method === "DELETE")).toEqual([]);
  });
});
