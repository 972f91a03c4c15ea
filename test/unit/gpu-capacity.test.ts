import { describe, expect, test } from "bun:test";
import type { V1Node, V1Pod, V1Taint, V1Toleration } from "@kubernetes/client-node";
import { checkGpuCapacity, gpuCandidateNodes, nodePlacementOf, type NodePlacement } from "../../src/sandbox/gpu-capacity";
import { validateSandbox } from "../../src/sandbox";
import { expectRejection } from "./expect-rejection";
import { makeSandbox, makeSettings } from "./fixtures";

interface NodeInit {
  gpus?: string;
  unschedulable?: boolean;
  ready?: string;
  labels?: Record<string, string>;
  taints?: V1Taint[];
}

function node(name: string, gpus: string | undefined, init: Omit<NodeInit, "gpus"> = {}): V1Node {
  return {
    metadata: { name, labels: { "kubernetes.io/hostname": name, ...init.labels } },
    spec: { ...(init.unschedulable ? { unschedulable: true } : {}), ...(init.taints ? { taints: init.taints } : {}) },
    status: {
      allocatable: gpus === undefined ? { cpu: "8" } : { cpu: "8", "nvidia.com/gpu": gpus },
      conditions: [{ type: "Ready", status: init.ready ?? "True" }],
    },
  };
}

function pod(nodeName: string | undefined, gpus: number, phase = "Running", via: "limits" | "requests" = "limits"): V1Pod {
  return {
    metadata: { name: `p-${Math.random()}` },
    spec: {
      ...(nodeName ? { nodeName } : {}),
      containers: [{ name: "c", resources: { [via]: { "nvidia.com/gpu": String(gpus) } } }],
    },
    status: { phase },
  };
}

const ANYWHERE: NodePlacement = { nodeSelector: {}, tolerations: [] };
const FIELD = "sandbox.spec.resource_requirements.gpu.count";
const GPU_TAINT: V1Taint = { key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" };

function placement(nodeSelector: Record<string, string> = {}, tolerations: V1Toleration[] = []): NodePlacement {
  return { nodeSelector, tolerations };
}

function candidates(count: number, nodes: V1Node[], where: NodePlacement): string[] {
  return gpuCandidateNodes(count, nodes, where).map((n) => n.metadata!.name!);
}

describe("GPU capacity", () => {
  test("a cluster without any GPU node is a failed precondition, not a wait", () => {
    const err = expectRejection(
      () => checkGpuCapacity(1, [node("a", undefined), node("b", "0")], [], ANYWHERE),
      "FailedPrecondition",
      "sandbox.spec.resource_requirements.gpu",
    );
    expect(err.message).toContain("GPU sandbox requested, but the cluster has no allocatable GPUs");
  });

  test("a node that is not Ready offers no GPUs, so the request is refused up front as exhausted (it may come back)", () => {
    expectRejection(() => checkGpuCapacity(1, [node("a", "4", { ready: "Unknown" })], [], ANYWHERE), "ResourceExhausted", FIELD);
  });

  test("a NotReady node's own not-ready taint does not make the refusal permanent", () => {
    const notReady = node("a", "4", { ready: "False", taints: [{ key: "node.kubernetes.io/not-ready", effect: "NoSchedule" }] });
    expectRejection(() => checkGpuCapacity(1, [notReady], [], ANYWHERE), "ResourceExhausted", FIELD);
  });

  test("a request that fits on one node passes", () => {
    expect(() => checkGpuCapacity(2, [node("a", "1"), node("b", "2")], [], ANYWHERE)).not.toThrow();
  });

  test("GPUs held by running pods are not free", () => {
    const err = expectRejection(
      () => checkGpuCapacity(3, [node("a", "4"), node("b", "2")], [pod("a", 2), pod("a", 1, "Pending", "requests")], ANYWHERE),
      "ResourceExhausted",
      FIELD,
    );
    expect(err.message).toBe(`${FIELD}: 3 GPUs requested, but at most 2 are free on any Ready node this sandbox can be scheduled on`);
  });

  test("GPUs are not added up across nodes", () => {
    expectRejection(() => checkGpuCapacity(3, [node("a", "2"), node("b", "2")], [], ANYWHERE), "ResourceExhausted", FIELD);
  });

  test("finished pods and unbound pods do not hold GPUs", () => {
    const pods = [pod("a", 4, "Succeeded"), pod("a", 4, "Failed"), pod(undefined, 4, "Pending")];
    expect(() => checkGpuCapacity(4, [node("a", "4")], pods, ANYWHERE)).not.toThrow();
  });

  test("a cordoned node offers no GPUs, though the cluster still has some", () => {
    const err = expectRejection(
      () => checkGpuCapacity(1, [node("a", "8", { unschedulable: true }), node("b", "1")], [pod("b", 1)], ANYWHERE),
      "ResourceExhausted",
      FIELD,
    );
    expect(err.message).toBe(`${FIELD}: 1 GPU requested, but at most 0 are free on any Ready node this sandbox can be scheduled on`);
  });

  test("only nodes with enough allocatable GPUs have their pods read", () => {
    expect(candidates(2, [node("small", "1"), node("big", "4"), node("cpu", undefined), node("down", "8", { ready: "False" })], ANYWHERE)).toEqual(["big"]);
  });
});

describe("GPU capacity on the nodes a sandbox may use", () => {
  const pools = [node("pool-a", "2", { labels: { pool: "a" } }), node("pool-b", "8", { labels: { pool: "b" } })];

  test("only nodes matching the sandbox's node selector count", () => {
    expect(candidates(1, pools, placement({ pool: "a" }))).toEqual(["pool-a"]);
    const err = expectRejection(() => checkGpuCapacity(4, pools, [], placement({ pool: "a" })), "ResourceExhausted", FIELD);
    expect(err.message).toContain("at most 2 are free");
  });

  test("a node selector no GPU node matches is a failed precondition naming the mismatch", () => {
    const err = expectRejection(() => checkGpuCapacity(1, pools, [], placement({ pool: "c" })), "FailedPrecondition", "sandbox.spec.resource_requirements.gpu");
    expect(err.message).toContain(`node pool-a: its label pool is "a", not "c"`);
    expect(err.message).toContain(`node pool-b: its label pool is "b", not "c"`);
  });

  test("a GPU node tainted NoSchedule is only used by a sandbox that tolerates the taint", () => {
    const tainted = [node("gpu", "4", { taints: [GPU_TAINT] })];
    const err = expectRejection(() => checkGpuCapacity(1, tainted, [], ANYWHERE), "FailedPrecondition", "sandbox.spec.resource_requirements.gpu");
    expect(err.message).toContain("node gpu: it has the taint nvidia.com/gpu=present:NoSchedule, which the sandbox does not tolerate");
    for (const toleration of [
      { key: "nvidia.com/gpu", operator: "Exists" },
      { key: "nvidia.com/gpu", operator: "Equal", value: "present", effect: "NoSchedule" },
      { key: "nvidia.com/gpu", value: "present" },
      { operator: "Exists" },
    ]) {
      expect(candidates(1, tainted, placement({}, [toleration]))).toEqual(["gpu"]);
    }
  });

  test("a toleration for another value, key or effect does not tolerate the taint", () => {
    const tainted = [node("gpu", "4", { taints: [GPU_TAINT] })];
    for (const toleration of [
      { key: "nvidia.com/gpu", value: "absent" },
      { key: "other", operator: "Exists" },
      { key: "nvidia.com/gpu", operator: "Exists", effect: "NoExecute" },
    ]) {
      expectRejection(() => checkGpuCapacity(1, tainted, [], placement({}, [toleration])), "FailedPrecondition", "sandbox.spec.resource_requirements.gpu");
    }
  });

  test("NoExecute taints keep the pod off too, PreferNoSchedule ones do not", () => {
    const noExecute = [node("gpu", "4", { taints: [{ key: "dedicated", value: "ml", effect: "NoExecute" }] })];
    expectRejection(() => checkGpuCapacity(1, noExecute, [], ANYWHERE), "FailedPrecondition", "sandbox.spec.resource_requirements.gpu");
    const preferred = [node("gpu", "4", { taints: [{ key: "dedicated", value: "ml", effect: "PreferNoSchedule" }] })];
    expect(() => checkGpuCapacity(1, preferred, [], ANYWHERE)).not.toThrow();
  });

  test("a sandbox tolerating the cordon taint may use a cordoned node, as the scheduler allows", () => {
    const cordoned = [node("gpu", "4", { unschedulable: true })];
    expect(candidates(1, cordoned, placement({}, [{ key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" }]))).toEqual(["gpu"]);
  });

  test("the placement merges platform_config over driver_config for the selector and adds up tolerations, as the pod is rendered", () => {
    const settings = makeSettings();
    const validated = validateSandbox(
      makeSandbox({
        spec: {
          template: {
            image: "busybox",
            platformConfig: { node_selector: { pool: "a" }, tolerations: [{ key: "x", operator: "Exists" }] },
            driverConfig: { pod: { node_selector: { pool: "b", zone: "z1" }, tolerations: [{ key: "y", operator: "Exists" }] } },
          },
        },
      }),
      settings,
    );
    expect(nodePlacementOf(validated)).toEqual({
      nodeSelector: { pool: "a", zone: "z1" },
      tolerations: [
        { key: "x", operator: "Exists" },
        { key: "y", operator: "Exists" },
      ],
    });
  });
});
