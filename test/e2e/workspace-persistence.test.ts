// e2e tier: the persistent /sandbox for real. The agent-sandbox controller makes the claim from the
// Sandbox's volumeClaimTemplates, kube-controller-manager's provisioner binds it to a volume, the
// scheduler waits for that before placing the pod, and the garbage collector removes the claim
// with its Sandbox.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { connectClient } from "../support/clients";
import { driverKubeconfig, eventually, kubectl, kubectlGetOptional, kubectlJson } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { sandboxRequest, TEST_IMAGE, uniqueName } from "../support/requests";

const NS = "openshell-system";
const GATEWAY_ID = `e2e-wsp-${Date.now().toString(36)}`;
const userClaims: string[] = [];

let driver: DriverProcess;
const client = () => connectClient(driver.socket);

function crFor(sandboxId: string): any | undefined {
  const list = kubectlJson<{ items: any[] }>(["get", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/sandbox-id=${sandboxId}`]);
  return list.items[0];
}

function podsFor(sandboxId: string): any[] {
  return kubectlJson<{ items: any[] }>(["get", "pods", "-n", NS, "-l", `openshell.ai/sandbox-id=${sandboxId}`]).items;
}

function readyPod(sandboxId: string): any | undefined {
  return podsFor(sandboxId).find(
    (p) => !p.metadata.deletionTimestamp && p.status.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"),
  );
}

function claim(name: string): any | undefined {
  return kubectlGetOptional(["pvc", name, "-n", NS]);
}

function boundClaim(name: string): Promise<any> {
  return eventually(`claim ${name} Bound`, () => {
    const c = claim(name);
    return c?.status?.phase === "Bound" ? c : undefined;
  });
}

function hostPathOf(volumeName: string): string {
  return kubectlJson(["get", "pv", volumeName]).spec.hostPath.path;
}

const agentOf = (pod: any) => pod.spec.containers.find((c: any) => c.name === "agent");

beforeAll(async () => {
  driver = await startDriver({ kubeconfig: driverKubeconfig(), gatewayId: GATEWAY_ID });
});

afterAll(async () => {
  kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/gateway-id=${GATEWAY_ID}`, "--wait=false"], { allowFailure: true });
  if (userClaims.length > 0) kubectl(["delete", "pvc", "-n", NS, ...userClaims, "--wait=false"], { allowFailure: true });
  await driver?.stop();
});

describe("the workspace claim outlives the pod (real controller, provisioner and garbage collector)", () => {
  const { id, name } = uniqueName("wsp");
  const claimName = `workspace-ws--${name}`;
  let claimUid = "";
  let volumeName = "";
  let volumeDir = "";

  test("a new sandbox gets a bound workspace-<sandbox> claim owned by its Sandbox, and its pod mounts it at /sandbox", async () => {
    await client().createSandbox({ sandbox: sandboxRequest({ id, name }) });
    const cr = crFor(id);
    expect(cr.spec.volumeClaimTemplates.map((t: any) => t.metadata.name)).toEqual(["workspace"]);

    const pvc = await boundClaim(claimName);
    expect(pvc.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: "Sandbox", name: cr.metadata.name, uid: cr.metadata.uid, controller: true }),
    ]);
    expect(pvc.spec.accessModes).toEqual(["ReadWriteOnce"]);
    expect(pvc.spec.resources.requests.storage).toBe("2Gi");
    expect(pvc.spec.storageClassName).toBe("hostpath"); // the cluster default, as the driver names none

    const pod = await eventually("the pod Ready", () => readyPod(id));
    expect(pod.spec.volumes.find((v: any) => v.name === "workspace")?.persistentVolumeClaim?.claimName).toBe(claimName);
    expect(agentOf(pod).volumeMounts).toContainEqual(expect.objectContaining({ name: "workspace", mountPath: "/sandbox" }));

    claimUid = pvc.metadata.uid;
    volumeName = pvc.spec.volumeName;
    volumeDir = hostPathOf(volumeName);
    expect(existsSync(volumeDir)).toBe(true);
  });

  test("StopSandbox deletes the pod but not the claim; StartSandbox's new pod mounts that same claim and becomes Ready", async () => {
    const podBefore = podsFor(id)[0].metadata.uid;
    await client().stopSandbox({ sandboxId: id }); // returns once the pod is gone
    expect(podsFor(id)).toEqual([]);
    const kept = claim(claimName);
    expect(kept?.metadata.uid).toBe(claimUid);
    expect(kept.status.phase).toBe("Bound");
    expect(kept.spec.volumeName).toBe(volumeName);
    expect(kept.metadata.deletionTimestamp).toBeUndefined();

    await client().startSandbox({ sandboxId: id });
    const pod = await eventually("a new pod Ready", () => {
      const p = readyPod(id);
      return p && p.metadata.uid !== podBefore ? p : undefined;
    });
    expect(pod.spec.volumes.find((v: any) => v.name === "workspace")?.persistentVolumeClaim?.claimName).toBe(claimName);
    expect(claim(claimName)?.metadata.uid).toBe(claimUid);
  });

  test("DeleteSandbox: the garbage collector deletes the claim, then the volume and its directory go", async () => {
    expect((await client().deleteSandbox({ sandboxId: id })).deleted).toBe(true);
    await eventually("the claim garbage-collected", () => (claim(claimName) === undefined ? true : undefined), 90_000);
    await eventually("the volume deleted", () => (kubectlGetOptional(["pv", volumeName]) === undefined ? true : undefined));
    await eventually("the volume's directory removed", () => (existsSync(volumeDir) ? undefined : true));
  });
});

test("a sandbox that mounts its own claim under /sandbox gets no workspace claim, and deleting it leaves that claim alone", async () => {
  const { id, name } = uniqueName("own");
  const ownClaim = `own-ws-${Date.now().toString(36)}`;
  userClaims.push(ownClaim);
  kubectl(["apply", "-f", "-"], {
    input: JSON.stringify({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: ownClaim, namespace: NS, labels: { "openshell.ai/sandbox-workspace": "ws" } },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
    }),
  });
  const sandbox = sandboxRequest({
    id,
    name,
    spec: {
      template: {
        image: TEST_IMAGE,
        driverConfig: {
          volumes: [{ name: "project", persistent_volume_claim: { claim_name: ownClaim, read_only: false } }],
          containers: { agent: { volume_mounts: [{ name: "project", mount_path: "/sandbox/project", read_only: false }] } },
        },
      },
    },
  });
  await client().createSandbox({ sandbox });
  expect(crFor(id).spec.volumeClaimTemplates).toBeUndefined();

  const pod = await eventually("the pod Ready", () => readyPod(id));
  expect(pod.spec.volumes.find((v: any) => v.name === "workspace")).toBeUndefined();
  expect(pod.spec.volumes.find((v: any) => v.name === "project")?.persistentVolumeClaim?.claimName).toBe(ownClaim);
  expect(agentOf(pod).volumeMounts).toContainEqual(expect.objectContaining({ name: "project", mountPath: "/sandbox/project" }));
  expect(claim(`workspace-ws--${name}`)).toBeUndefined();

  await client().deleteSandbox({ sandboxId: id });
  await eventually("the pod garbage-collected", () => (podsFor(id).length === 0 ? true : undefined));
  const survivor = claim(ownClaim);
  expect(survivor?.status.phase).toBe("Bound");
  expect(survivor.metadata.deletionTimestamp).toBeUndefined();
});
