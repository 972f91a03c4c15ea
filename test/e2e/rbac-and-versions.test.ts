// e2e tier: what a cluster can refuse (RBAC) and the older Sandbox API version.
import { afterAll, describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectClient } from "../support/clients";
import { clusterState, driverKubeconfig, eventually, k8sMinor, kubectl, kubectlJson, testWhere } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { CLUSTER_DIR, REPO } from "../support/paths";
import { sandboxRequest, uniqueName } from "../support/requests";
import { condition } from "../support/watch-recorder";

const NS = "openshell-system";
const { k8sVersion, agentSandboxVersion, conversionWebhook } = clusterState();
const servesV1alpha1 = testWhere(conversionWebhook, `agent-sandbox ${agentSandboxVersion} serves agents.x-k8s.io/v1beta1 only`);
const servesV1beta1Only = testWhere(!conversionWebhook, `agent-sandbox ${agentSandboxVersion} still serves agents.x-k8s.io/v1alpha1 (the test above covers it)`);
const keepsImageVolumes = testWhere(k8sMinor() >= 35, `ImageVolume is off by default before Kubernetes 1.35 and this cluster runs ${k8sVersion} (test/e2e/pod-features.test.ts covers the refusal)`);
const running: DriverProcess[] = [];
const gatewayIds: string[] = [];

afterAll(async () => {
  for (const gw of gatewayIds) {
    kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/gateway-id=${gw}`, "--wait=false"], { allowFailure: true });
  }
  await Promise.all(running.map((d) => d.stop()));
});

async function driverWith(kubeconfig: string, args: string[] = []): Promise<DriverProcess> {
  const gatewayId = `e2e2-${Date.now().toString(36)}-${running.length}`;
  gatewayIds.push(gatewayId);
  const driver = await startDriver({ kubeconfig, gatewayId, args });
  running.push(driver);
  return driver;
}

/** A service account that may read sandboxes but not create them. */
function readOnlyKubeconfig(): string {
  const rbac = join(mkdtempSync(join(tmpdir(), "osdrv-rbac-")), "read-only.yaml");
  writeFileSync(
    rbac,
    `apiVersion: v1
kind: ServiceAccount
metadata: {name: openshell-driver-readonly, namespace: ${NS}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: openshell-driver-readonly, namespace: ${NS}}
rules:
- {apiGroups: ["agents.x-k8s.io"], resources: ["sandboxes"], verbs: ["get", "list", "watch"]}
- {apiGroups: [""], resources: ["pods", "events"], verbs: ["get", "list", "watch"]}
# A create first looks for a predecessor's claim (persistentvolumeclaims get); the gap under test is the write.
- {apiGroups: [""], resources: ["persistentvolumeclaims"], verbs: ["get"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: openshell-driver-readonly, namespace: ${NS}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: openshell-driver-readonly}
subjects: [{kind: ServiceAccount, name: openshell-driver-readonly, namespace: ${NS}}]
`,
  );
  const out = join(CLUSTER_DIR, "readonly.kubeconfig");
  const proc = Bun.spawnSync(["bash", join(REPO, "cluster/driver-kubeconfig.sh"), "openshell-driver-readonly", rbac, out], { stderr: "pipe" });
  if (proc.exitCode !== 0) throw new Error(proc.stderr.toString());
  return out;
}

describe("RBAC and Sandbox API versions on a real control plane", () => {
  test("the driver's own RBAC gap surfaces as FAILED_PRECONDITION naming its identity, the verb, the resource and the manifest to apply", async () => {
    const driver = await driverWith(readOnlyKubeconfig());
    const sandbox = sandboxRequest(uniqueName("denied"));
    const err = ConnectError.from(
      await connectClient(driver.socket)
        .createSandbox({ sandbox })
        .then(() => new Error("accepted"))
        .catch((e: unknown) => e),
    );
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toStartWith(
      `the driver's identity "system:serviceaccount:${NS}:openshell-driver-readonly" may not create sandboxes.agents.x-k8s.io in namespace "${NS}": grant it by applying deploy/rbac.yaml`,
    );
  });

  servesV1alpha1("a driver forced to agents.x-k8s.io/v1alpha1 creates, stops (pod gone), starts and deletes", async () => {
    const driver = await driverWith(driverKubeconfig(), ["--sandbox-api-version=v1alpha1"]);
    const client = connectClient(driver.socket);
    const { id, name } = uniqueName("alpha");
    const pods = () => kubectlJson<{ items: any[] }>(["get", "pods", "-n", NS, "-l", `openshell.ai/sandbox-id=${id}`]).items;
    const ready = () =>
      eventually("Ready=True", async () => {
        const s = (await client.getSandbox({ sandboxId: id })).sandbox!;
        return condition(s, "Ready")?.status === "True" && pods().length === 1 ? s : undefined;
      });

    await client.createSandbox({ sandbox: sandboxRequest({ id, name }) });
    const stored = kubectlJson(["get", "sandboxes.v1alpha1.agents.x-k8s.io", "-n", NS, `ws--${name}`]);
    expect(stored.apiVersion).toBe("agents.x-k8s.io/v1alpha1");
    await ready();

    await client.stopSandbox({ sandboxId: id });
    expect(pods()).toEqual([]);
    expect(kubectlJson(["get", "sandboxes.v1alpha1.agents.x-k8s.io", "-n", NS, `ws--${name}`]).spec.replicas).toBe(0);

    await client.startSandbox({ sandboxId: id });
    await ready();

    expect((await client.deleteSandbox({ sandboxId: id })).deleted).toBe(true);
    await eventually("NOT_FOUND after delete", () =>
      client
        .getSandbox({ sandboxId: id })
        .then(() => undefined)
        .catch((e: unknown) => (ConnectError.from(e).code === Code.NotFound ? true : undefined)),
    );
  });

  servesV1beta1Only("a driver forced to agents.x-k8s.io/v1alpha1 where agent-sandbox serves v1beta1 only refuses to serve: FAILED_PRECONDITION naming the version tried", async () => {
    const driver = await startDriver({ kubeconfig: driverKubeconfig(), gatewayId: `e2e2-${Date.now().toString(36)}-alpha`, args: ["--sandbox-api-version=v1alpha1"], waitFor: "socket" });
    running.push(driver);
    const client = connectClient(driver.socket);
    const err = await eventually("FAILED_PRECONDITION", async () => {
      const e = ConnectError.from(await client.listSandboxes({}).then(() => new Error("served"), (x: unknown) => x));
      return e.code === Code.FailedPrecondition ? e : undefined;
    });
    expect(err.rawMessage).toContain("the cluster serves no Sandbox API version the driver can use (tried agents.x-k8s.io/v1alpha1)");
  });

  keepsImageVolumes("the image-volume supervisor sideload is accepted by the API server and the pod runs, mounting the image where the agent execs the supervisor", async () => {
    const driver = await driverWith(driverKubeconfig(), ["--supervisor-sideload=image-volume"]);
    const client = connectClient(driver.socket);
    const { id, name } = uniqueName("imgvol");
    await client.createSandbox({ sandbox: sandboxRequest({ id, name }) });
    const pod = await eventually("the pod Running", () => {
      const pods = kubectlJson<{ items: any[] }>(["get", "pods", "-n", NS, "-l", `openshell.ai/sandbox-id=${id}`]).items;
      return pods.find((p) => p.status?.phase === "Running");
    });
    // Only the workspace seed runs before the agent: nothing copies the supervisor.
    expect((pod.spec.initContainers ?? []).map((c: any) => c.name)).toEqual(["workspace-init"]);
    expect(pod.spec.volumes.find((v: any) => v.name === "openshell-supervisor-bin").image.reference).toBeTruthy();
    const agent = pod.spec.containers.find((c: any) => c.name === "agent");
    // The published image keeps the binary at its root, so the whole image is mounted, no subPath.
    expect(agent.volumeMounts.find((m: any) => m.name === "openshell-supervisor-bin")).toEqual({
      name: "openshell-supervisor-bin",
      mountPath: "/opt/openshell/bin",
      readOnly: true,
    });
    expect(agent.command[0]).toBe("/opt/openshell/bin/openshell-sandbox");
    expect(JSON.stringify(pod.spec)).not.toContain("hostPath");
    await client.deleteSandbox({ sandboxId: id });
  });
});
