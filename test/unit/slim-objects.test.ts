// The cache keeps a slim copy of each Sandbox CR and pod; the gateway must see exactly what it
// would see from the full objects.
import { describe, expect, test } from "bun:test";
import { equals } from "@bufbuild/protobuf";
import type { V1Pod } from "@kubernetes/client-node";
import { DriverSandboxSchema } from "../../src/gen/compute_driver_pb";
import { slimPod, slimSandbox } from "../../src/driver/slim-objects";
import { observeSandbox, renderSandbox, sandboxIdOf, validateSandbox, type SandboxResource } from "../../src/sandbox";
import { makeSandbox, makeSettings } from "./fixtures";

function renderedCr(): SandboxResource {
  const settings = makeSettings();
  const cr = renderSandbox(validateSandbox(makeSandbox(), settings), settings);
  return { ...cr, metadata: { ...cr.metadata, uid: "uid-1", resourceVersion: "7", generation: 2, creationTimestamp: "2026-01-01T10:00:00Z" } };
}

function podOf(cr: SandboxResource, name: string): V1Pod {
  return {
    metadata: {
      name,
      namespace: cr.metadata.namespace,
      uid: "pod-uid",
      resourceVersion: "9",
      labels: { ...cr.metadata.labels, "pod-template-hash": "abc" },
      annotations: { ...cr.metadata.annotations, "kubectl.kubernetes.io/restartedAt": "now" },
      managedFields: [{ manager: "kubelet", operation: "Update" }],
    },
    spec: cr.spec.podTemplate.spec,
    status: { phase: "Running", containerStatuses: [{ name: "agent", image: "img", imageID: "id", ready: true, restartCount: 0 }] },
  };
}

const base = renderedCr();
const variants: [string, SandboxResource][] = [
  ["as rendered, without status", base],
  [
    "ready, with conditions",
    {
      ...base,
      status: {
        conditions: [
          { type: "Ready", status: "True", reason: "PodReady", message: "Bereit — ✓", lastTransitionTime: "2026-01-01T10:01:00Z", observedGeneration: 2 },
          { type: "Suspended", status: "False", lastTransitionTime: new Date("2026-01-01T10:02:00Z") },
        ],
        podIPs: ["10.0.0.1"],
        replicas: 1,
      },
    },
  ],
  ["being deleted", { ...base, metadata: { ...base.metadata, deletionTimestamp: "2026-01-01T11:00:00Z" } }],
  ["with a status but no conditions", { ...base, status: { replicas: 0 } }],
  ["handed a warm pool's pod", { ...base, metadata: { ...base.metadata, annotations: { ...base.metadata.annotations, "agents.x-k8s.io/pod-name": "warm-3" } }, status: { conditions: [] } }],
  ["not managed by this driver", { ...base, metadata: { ...base.metadata, labels: { ...base.metadata.labels, "openshell.ai/managed-by": "someone-else" } } }],
];

describe("the cache's slim copies", () => {
  for (const [name, cr] of variants) {
    test(`a CR ${name} is observed the same from its slim copy, with and without its pod`, () => {
      for (const pod of [undefined, podOf(cr, "box-pod")]) {
        const full = observeSandbox(cr, pod);
        const slim = observeSandbox(slimSandbox(cr), pod && slimPod(pod));
        if (full === undefined) expect(slim).toBeUndefined();
        else expect(slim && equals(DriverSandboxSchema, slim, full)).toBe(true);
      }
    });
  }

  test("a slim CR keeps the identity, times and versions the cache reads, and drops the pod template", () => {
    const slim = slimSandbox({ ...base, metadata: { ...base.metadata, deletionTimestamp: "2026-01-01T11:00:00Z" } });
    expect(slim).not.toHaveProperty("spec");
    expect(slim.metadata).toMatchObject({ name: base.metadata.name, namespace: base.metadata.namespace, uid: "uid-1", resourceVersion: "7", generation: 2, creationTimestamp: "2026-01-01T10:00:00Z", deletionTimestamp: "2026-01-01T11:00:00Z" });
    expect(sandboxIdOf(slim)).toBe(sandboxIdOf(base));
    expect(observeSandbox(slim, undefined)?.status?.deleting).toBe(true);
  });

  test("a slim pod keeps its name, place, versions and sandbox id, and nothing of its spec or status", () => {
    const pod = podOf(base, "box-pod");
    const slim = slimPod(pod);
    expect(Object.keys(slim)).toEqual(["metadata"]);
    expect(slim.metadata).toMatchObject({ name: "box-pod", namespace: base.metadata.namespace, uid: "pod-uid", resourceVersion: "9" });
    expect(slim.metadata.labels).not.toHaveProperty("pod-template-hash");
    expect(slim.metadata.annotations ?? {}).not.toHaveProperty("kubectl.kubernetes.io/restartedAt");
    expect(sandboxIdOf(slim)).toBe(sandboxIdOf(pod));
  });

  test("a slim pod keeps only the sandbox id of its identity keys, wherever the pod carries it", () => {
    const pod = podOf(base, "box-pod");
    const id = sandboxIdOf(base)!;
    expect(slimPod(pod).metadata.labels).toEqual({ "openshell.ai/sandbox-id": id });
    const carriers: [string, V1Pod["metadata"]][] = [
      ["as the openshell.io annotation", { name: "p", annotations: { "openshell.io/sandbox-id": id } }],
      ["as an openshell.ai annotation", { name: "p", annotations: { "openshell.ai/sandbox-id": id, "openshell.ai/sandbox-name": "n" } }],
      ["as a label only", { name: "p", labels: { "openshell.ai/sandbox-id": id, "openshell.ai/managed-by": "openshell" } }],
    ];
    for (const [, metadata] of carriers) {
      const slim = slimPod({ metadata });
      expect(sandboxIdOf(slim)).toBe(id);
      expect(equals(DriverSandboxSchema, observeSandbox(base, slim)!, observeSandbox(base, { metadata })!)).toBe(true);
    }
  });
});
