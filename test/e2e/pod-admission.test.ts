// e2e tier: Pod Security admission, enforced by the real kube-apiserver on the pod the
// agent-sandbox controller makes from our podTemplate. The combined-topology agent runs as root
// with SYS_ADMIN, NET_ADMIN, SYS_PTRACE and SYSLOG (the supervisor needs them), so only a
// `privileged` namespace admits it; the driver's namespace must be labelled so.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connectClient } from "../support/clients";
import { driverKubeconfig, eventually, grantDriverRoleIn, kubectl, kubectlJson } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { sandboxRequest, uniqueName } from "../support/requests";
import { condition } from "../support/watch-recorder";

const PRIVILEGED_NS = "openshell-system";
const BASELINE_NS = `e2e-baseline-${Date.now().toString(36)}`;
const GATEWAY_ID = `e2e-psa-${Date.now().toString(36)}`;
const BASELINE_CAPABILITIES = ["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYSLOG"];

let privileged: DriverProcess;
let baseline: DriverProcess;

function podsIn(namespace: string, sandboxId: string): any[] {
  return kubectlJson<{ items: any[] }>(["get", "pods", "-n", namespace, "-l", `openshell.ai/sandbox-id=${sandboxId}`]).items;
}

beforeAll(async () => {
  const kubeconfig = driverKubeconfig();
  kubectl(["apply", "-f", "-"], {
    input: JSON.stringify({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: BASELINE_NS, labels: { "pod-security.kubernetes.io/enforce": "baseline" } },
    }),
  });
  grantDriverRoleIn(BASELINE_NS);
  [privileged, baseline] = await Promise.all([
    startDriver({ kubeconfig, gatewayId: GATEWAY_ID }),
    startDriver({ kubeconfig, gatewayId: GATEWAY_ID, namespace: BASELINE_NS }),
  ]);
});

afterAll(async () => {
  kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", PRIVILEGED_NS, "-l", `openshell.ai/gateway-id=${GATEWAY_ID}`, "--wait=false"], { allowFailure: true });
  kubectl(["delete", "namespace", BASELINE_NS, "--wait=false"], { allowFailure: true });
  await Promise.all([privileged?.stop(), baseline?.stop()]);
});

describe("Pod Security admission on the pods the controller makes from our template", () => {
  test("in the privileged openshell-system namespace the root agent with its added capabilities is admitted and becomes Ready", async () => {
    const ns = kubectlJson(["get", "namespace", PRIVILEGED_NS]);
    expect(ns.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("privileged");
    const { id, name } = uniqueName("psa-ok");
    const client = connectClient(privileged.socket);
    await client.createSandbox({ sandbox: sandboxRequest({ id, name }) });

    const pod = await eventually("the pod Ready", () =>
      podsIn(PRIVILEGED_NS, id).find((p) => p.status.conditions?.some((c: any) => c.type === "Ready" && c.status === "True")),
    );
    const agent = pod.spec.containers.find((c: any) => c.name === "agent");
    expect(agent.securityContext.runAsUser).toBe(0);
    expect(agent.securityContext.capabilities.add).toEqual(expect.arrayContaining(BASELINE_CAPABILITIES));
    await eventually("Ready=True through the driver", async () => {
      const s = (await client.getSandbox({ sandboxId: id })).sandbox!;
      return condition(s, "Ready")?.status === "True" ? s : undefined;
    });
    await client.deleteSandbox({ sandboxId: id });
  });

  test("in a namespace enforcing baseline the same sandbox's pod is refused: Ready=False, reason ReconcilerError, the Forbidden message, no pod", async () => {
    const { id, name } = uniqueName("psa-no");
    const client = connectClient(baseline.socket);
    await client.createSandbox({ sandbox: sandboxRequest({ id, name }) });

    const refused = await eventually("Ready=False with the controller's error, through the driver", async () => {
      const s = (await client.getSandbox({ sandboxId: id })).sandbox!;
      const ready = s.status?.conditions.find((c) => c.type === "Ready");
      return ready?.status === "False" && ready.reason === "ReconcilerError" ? ready : undefined;
    });
    expect(refused.message).toContain(`forbidden: violates PodSecurity "baseline:latest"`);
    expect(refused.message).toContain("non-default capabilities");
    expect(refused.message).toContain('container "agent"');

    const cr = kubectlJson<{ items: any[] }>(["get", "sandboxes.agents.x-k8s.io", "-n", BASELINE_NS, "-l", `openshell.ai/sandbox-id=${id}`]).items[0];
    const crReady = cr.status.conditions.find((c: any) => c.type === "Ready");
    expect({ status: crReady.status, reason: crReady.reason, message: crReady.message }).toEqual({
      status: "False",
      reason: "ReconcilerError",
      message: refused.message,
    });
    expect(podsIn(BASELINE_NS, id)).toEqual([]);
  });
});
