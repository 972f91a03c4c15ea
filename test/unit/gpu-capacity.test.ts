import { describe, expect, test } from "bun:test";
import type { V1Node, V1Pod } from "@kubernetes/client-node";
import { checkGpuCapacity } from "../../src/sandbox";
import { expectRejection } from "./expect-rejection";

function node(name: string, gpus: string | undefined, unschedulable = false, ready = "True"): V1Node {
  return {
    metadata: { name },
    spec: unschedulable ? { unschedulable: true } : {},
    status: {
      allocatable: gpus === undefined ? { cpu: "8" } : { cpu: "8", "nvidia.com/gpu": gpus },
      conditions: [{ type: "Ready", status: ready }],
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

const FIELD = "sandbox.spec.resource_requirements.gpu.count";

describe("GPU capacity", () => {
  test("a cluster without any GPU node is a failed precondition, not a wait", () => {
    const err = expectRejection(
      () => checkGpuCapacity(1, [node("a", undefined), node("b", "0")], []),
      "FailedPrecondition",
      "sandbox.spec.resource_requirements.gpu",
    );
    expect(err.message).toContain("GPU sandbox requested, but the cluster has no allocatable GPUs");
  });

  test("a node that is not Ready offers no GPUs, so the request is refused up front", () => {
    expectRejection(() => checkGpuCapacity(1, [node("a", "4", false, "Unknown")], []), "ResourceExhausted", FIELD);
  });

  test("a request that fits on one node passes", () => {
    expect(() => checkGpuCapacity(2, [node("a", "1"), node("b", "2")], [])).not.toThrow();
  });

  test("GPUs held by running pods are not free", () => {
    const err = expectRejection(
      () => checkGpuCapacity(3, [node("a", "4"), node("b", "2")], [pod("a", 2), pod("a", 1, "Pending", "requests")]),
      "ResourceExhausted",
      FIELD,
    );
    expect(err.message).toBe(`${FIELD}: 3 GPUs requested, but at most 2 are free on any node`);
  });

  test("GPUs are not added up across nodes", () => {
    expectRejection(() => checkGpuCapacity(3, [node("a", "2"), node("b", "2")], []), "ResourceExhausted", FIELD);
  });

  test("finished pods and unbound pods do not hold GPUs", () => {
    const pods = [pod("a", 4, "Succeeded"), pod("a", 4, "Failed"), pod(undefined, 4, "Pending")];
    expect(() => checkGpuCapacity(4, [node("a", "4")], pods)).not.toThrow();
  });

  test("a cordoned node offers no GPUs, though the cluster still has some", () => {
    const err = expectRejection(
      () => checkGpuCapacity(1, [node("a", "8", true), node("b", "1")], [pod("b", 1)]),
      "ResourceExhausted",
      FIELD,
    );
    expect(err.message).toBe(`${FIELD}: 1 GPU requested, but at most 0 are free on any node`);
  });
});
