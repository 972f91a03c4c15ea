// e2e tier: the compiled driver, least-privileged, against a real kube-apiserver, the real
// agent-sandbox controller, scheduler, garbage collector and kwok nodes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectClient } from "../support/clients";
import { apiserver, driverKubeconfig, eventually, kubectl, kubectlJson } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { sandboxRequest, uniqueName } from "../support/requests";
import { WatchRecorder, condition } from "../support/watch-recorder";

const NS = "openshell-system";
const GATEWAY_ID = `e2e-${Date.now().toString(36)}`;

let driver: DriverProcess;
let watch: WatchRecorder;

function crFor(sandboxId: string): any | undefined {
  const list = kubectlJson<{ items: any[] }>(["get", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/sandbox-id=${sandboxId}`]);
  return list.items[0];
}

function podsFor(sandboxId: string): any[] {
  return kubectlJson<{ items: any[] }>(["get", "pods", "-n", NS, "-l", `openshell.ai/sandbox-id=${sandboxId}`]).items;
}

async function rejection(call: Promise<unknown>): Promise<ConnectError> {
  return ConnectError.from(await call.then(() => new Error("the call was accepted")).catch((e: unknown) => e));
}

beforeAll(async () => {
  // The request policy admits the missing runtime class the FAILED_PRECONDITION test names.
  driver = await startDriver({ kubeconfig: driverKubeconfig(), gatewayId: GATEWAY_ID, args: ["--allowed-runtime-classes=no-such-runtime"] });
  watch = new WatchRecorder(driver.socket);
});

afterAll(async () => {
  await watch?.close();
  kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/gateway-id=${GATEWAY_ID}`, "--wait=false"], { allowFailure: true });
  await driver?.stop();
});

describe("sandbox lifecycle against a real control plane (least-privileged driver)", () => {
  const { id, name } = uniqueName("life");
  const client = () => connectClient(driver.socket);

  test("create → Sandbox CR → pod made by the controller → Ready=True, seen on the watch with the pod as instance_id", async () => {
    await client().createSandbox({ sandbox: sandboxRequest({ id, name }) });
    const cr = crFor(id);
    expect(cr.metadata.name).toBe(`ws--${name}`);
    expect(cr.metadata.labels["openshell.ai/gateway-id"]).toBe(GATEWAY_ID);

    const ready = await watch.waitForSnapshot("Ready=True on the watch", id, (s) => condition(s, "Ready")?.status === "True");
    expect(ready.name).toBe(name); // the gateway's name, not the Kubernetes object name
    expect(ready.status!.instanceId).toBe(podsFor(id)[0].metadata.name);
    // The stream showed the way there, not only the end state.
    const snapshots = watch.snapshotsOf(id);
    expect(snapshots.some((s) => condition(s!, "Ready")?.status !== "True")).toBe(true);
  });

  test("GetSandbox and ListSandboxes agree with the cluster", async () => {
    const got = (await client().getSandbox({ sandboxId: id })).sandbox!;
    const cr = crFor(id);
    expect(got.namespace).toBe(NS);
    expect(got.workspace).toBe("ws");
    expect(got.status!.sandboxName).toBe(cr.metadata.name);
    expect(got.status!.conditions.map((c) => `${c.type}=${c.status}`).sort()).toEqual(
      cr.status.conditions.map((c: any) => `${c.type}=${c.status}`).sort(),
    );
    const listed = (await client().listSandboxes({})).sandboxes.map((s) => s.id).sort();
    const inCluster = kubectlJson<{ items: any[] }>(["get", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/gateway-id=${GATEWAY_ID}`])
      .items.map((i) => i.metadata.labels["openshell.ai/sandbox-id"])
      .sort();
    expect(listed).toEqual(inCluster);
  });

  test("the pod's Kubernetes events reach the watch as platform events with progress metadata", async () => {
    const events = await eventually("a Scheduled platform event", () => {
      const evs = watch.platformEventsOf(id);
      return evs.some((e) => e.reason === "Scheduled") ? evs : undefined;
    });
    const scheduled = events.find((e) => e.reason === "Scheduled")!;
    expect(scheduled.source).toBe("kubernetes");
    expect(scheduled.metadata["openshell.progress.complete_step"]).toBe("requesting_sandbox");
  });

  test("StopSandbox returns only once Suspended=True and the pod is gone; StartSandbox makes it Ready again", async () => {
    await client().stopSandbox({ sandboxId: id });
    expect(podsFor(id)).toEqual([]);
    expect(crFor(id).status.conditions.find((c: any) => c.type === "Suspended")?.status).toBe("True");
    await client().stopSandbox({ sandboxId: id }); // idempotent

    await client().startSandbox({ sandboxId: id });
    await client().startSandbox({ sandboxId: id }); // idempotent
    await eventually("Ready=True after start", async () => {
      const s = (await client().getSandbox({ sandboxId: id })).sandbox!;
      return condition(s, "Ready")?.status === "True" && podsFor(id).length === 1 ? s : undefined;
    });
  });

  test("DeleteSandbox reports deleted=true, the watch says deleted, the pod is garbage-collected, Get is NOT_FOUND", async () => {
    expect((await client().deleteSandbox({ sandboxId: id })).deleted).toBe(true);
    await watch.waitForDeleted(id);
    await eventually("the pod garbage-collected", () => (podsFor(id).length === 0 ? true : undefined));
    expect((await rejection(client().getSandbox({ sandboxId: id }))).code).toBe(Code.NotFound);
    expect((await client().deleteSandbox({ sandboxId: id })).deleted).toBe(false);
  });

  test("a GPU sandbox (count 1) schedules on the GPU node; count 3 is refused before anything is created", async () => {
    const gpu = uniqueName("gpu");
    await client().validateSandboxCreate({ sandbox: sandboxRequest({ ...gpu, gpuCount: 1 }) });
    await client().createSandbox({ sandbox: sandboxRequest({ ...gpu, gpuCount: 1 }) });
    const pod = await eventually("the GPU pod bound to a node", () => podsFor(gpu.id).find((p) => p.spec.nodeName));
    expect(pod.spec.nodeName).toBe("kwok-node-gpu");
    expect(pod.spec.containers[0].resources.limits["nvidia.com/gpu"]).toBe("1");

    const tooMany = uniqueName("gpu3");
    const err = await rejection(client().validateSandboxCreate({ sandbox: sandboxRequest({ ...tooMany, gpuCount: 3 }) }));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toContain("gpu");
    expect(crFor(tooMany.id)).toBeUndefined();
    await client().deleteSandbox({ sandboxId: gpu.id });
  });

  test("every kind of invalid input creates nothing in the cluster", async () => {
    const before = kubectl(["get", "sandboxes.agents.x-k8s.io", "-n", NS, "-o", "name"]);
    const bad = (overrides: Parameters<typeof sandboxRequest>[0]) => sandboxRequest(overrides);
    const cases = [
      bad({ ...uniqueName("i"), name: "Has_Underscore" }),
      bad({ ...uniqueName("i"), workspace: "x".repeat(40), name: "y".repeat(30) }),
      bad({ ...uniqueName("i"), image: "UPPER/Case:tag" }),
      bad({ ...uniqueName("i"), environment: { "BAD-NAME": "v" } }),
      bad({ ...uniqueName("i"), gpuCount: 0 }),
      sandboxRequest({ ...uniqueName("i"), spec: { template: { image: "busybox", resources: { cpuLimit: "lots" } } } }),
      sandboxRequest({ ...uniqueName("i"), spec: { template: { image: "busybox", driverConfig: { pod: { host_network: true } } } } }),
      sandboxRequest({
        ...uniqueName("i"),
        spec: { template: { image: "busybox", driverConfig: { volumes: [{ name: "openshell-sa-token", persistent_volume_claim: { claim_name: "x" } }] } } },
      }),
      sandboxRequest({ ...uniqueName("i"), spec: { template: { image: "busybox", platformConfig: { privileged: true } } } }),
    ];
    for (const sandbox of cases) {
      const err = await rejection(client().createSandbox({ sandbox }));
      expect({ name: sandbox.name, code: err.code }).toEqual({ name: sandbox.name, code: Code.InvalidArgument });
      expect(err.rawMessage).toMatch(/^sandbox\./);
    }
    expect(kubectl(["get", "sandboxes.agents.x-k8s.io", "-n", NS, "-o", "name"])).toBe(before);
  });

  test("ValidateSandboxCreate refuses a missing claim or runtime class with FAILED_PRECONDITION naming the field; an existing claim passes", async () => {
    const claim = `claim-${Date.now().toString(36)}`;
    kubectl(["apply", "-f", "-"], {
      input: JSON.stringify({
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        // Shared mode: a claim is a workspace's only when labelled for it (sandbox/claim-ownership.ts).
        metadata: { name: claim, namespace: NS, labels: { "openshell.ai/sandbox-workspace": "ws" } },
        spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
      }),
    });
    const withClaim = (claimName: string) =>
      sandboxRequest({
        ...uniqueName("pvc"),
        spec: {
          template: {
            image: "busybox",
            driverConfig: {
              volumes: [{ name: "data", persistent_volume_claim: { claim_name: claimName } }],
              containers: { agent: { volume_mounts: [{ name: "data", mount_path: "/data" }] } },
            },
          },
        },
      });
    await client().validateSandboxCreate({ sandbox: withClaim(claim) });

    const missing = await rejection(client().validateSandboxCreate({ sandbox: withClaim("no-such-claim") }));
    expect(missing.code).toBe(Code.FailedPrecondition);
    expect(missing.rawMessage).toStartWith("sandbox.spec.template.driver_config.volumes[0].persistent_volume_claim.claim_name");
    expect(missing.rawMessage).toContain('workspace "ws" has no PersistentVolumeClaim "no-such-claim"');

    const runtime = await rejection(
      client().validateSandboxCreate({
        sandbox: sandboxRequest({ ...uniqueName("rc"), spec: { template: { image: "busybox", platformConfig: { runtime_class_name: "no-such-runtime" } } } }),
      }),
    );
    expect(runtime.code).toBe(Code.FailedPrecondition);
    expect(runtime.rawMessage).toStartWith("sandbox.spec.template.platform_config.runtime_class_name");
    kubectl(["delete", "pvc", "-n", NS, claim, "--wait=false"]);
  });

  test("a second create of the same sandbox id is OK; another id under the same name is ALREADY_EXISTS", async () => {
    const dup = uniqueName("dup");
    await client().createSandbox({ sandbox: sandboxRequest(dup) });
    await client().createSandbox({ sandbox: sandboxRequest(dup) });
    const err = await rejection(client().createSandbox({ sandbox: sandboxRequest({ id: `${dup.id}-other`, name: dup.name }) }));
    expect(err.code).toBe(Code.AlreadyExists);
    await client().deleteSandbox({ sandboxId: dup.id });
  });

  test("kube-apiserver stopped and restarted under open watches: streams continue, a deletion is reported, List matches the cluster", async () => {
    const survivor = uniqueName("keep");
    const doomed = uniqueName("doom");
    await client().createSandbox({ sandbox: sandboxRequest(survivor) });
    await client().createSandbox({ sandbox: sandboxRequest(doomed) });
    await watch.waitForSnapshot("the doomed sandbox on the watch", doomed.id, () => true);

    apiserver("stop");
    try {
      const err = await rejection(client().stopSandbox({ sandboxId: survivor.id }));
      expect(err.code).toBe(Code.Unavailable);
    } finally {
      apiserver("start");
    }
    // Deleted behind the driver's back, while its watches are still reconnecting.
    kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/sandbox-id=${doomed.id}`, "--wait=false"]);
    await watch.waitForDeleted(doomed.id);
    expect(await Promise.race([watch.done, Promise.resolve("open")])).toBe("open");

    await eventually("List equal to the cluster", async () => {
      const listed = (await client().listSandboxes({})).sandboxes.map((s) => s.id).sort();
      const inCluster = kubectlJson<{ items: any[] }>(["get", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/gateway-id=${GATEWAY_ID}`])
        .items.map((i) => i.metadata.labels["openshell.ai/sandbox-id"])
        .sort();
      return JSON.stringify(listed) === JSON.stringify(inCluster) && listed.includes(survivor.id) ? true : undefined;
    });
    await client().deleteSandbox({ sandboxId: survivor.id });
  });
});
