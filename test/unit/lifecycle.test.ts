import { describe, expect, test } from "bun:test";
import { isStopped, lifecyclePatch, stopRejection, type SandboxCondition, type SandboxResource } from "../../src/sandbox";

function cr(apiVersion: SandboxResource["apiVersion"], conditions: SandboxCondition[] = [], replicas?: number): SandboxResource {
  return {
    apiVersion,
    kind: "Sandbox",
    metadata: { name: "alice--demo" },
    spec: { podTemplate: { spec: { containers: [] } }, ...(replicas === undefined ? {} : { replicas }) },
    status: { conditions },
  };
}

describe("stop and start", () => {
  test("v1beta1 stops and starts through operatingMode", () => {
    expect(lifecyclePatch("v1beta1", false)).toEqual({ spec: { operatingMode: "Suspended" } });
    expect(lifecyclePatch("v1beta1", true)).toEqual({ spec: { operatingMode: "Running" } });
  });

  test("v1alpha1 stops and starts through replicas", () => {
    expect(lifecyclePatch("v1alpha1", false)).toEqual({ spec: { replicas: 0 } });
    expect(lifecyclePatch("v1alpha1", true)).toEqual({ spec: { replicas: 1 } });
  });

  test("a v1beta1 sandbox is stopped once the controller reports Suspended=True", () => {
    const suspending = cr("agents.x-k8s.io/v1beta1", [{ type: "Suspended", status: "False", reason: "PodTerminating" }]);
    const suspended = cr("agents.x-k8s.io/v1beta1", [{ type: "Suspended", status: "True", reason: "PodTerminated" }]);
    expect(isStopped(suspending, false)).toBe(false);
    expect(isStopped(suspended, true)).toBe(true);
  });

  test("a v1alpha1 sandbox is stopped when scaled to zero and its pod is gone", () => {
    expect(isStopped(cr("agents.x-k8s.io/v1alpha1", [], 0), true)).toBe(false);
    expect(isStopped(cr("agents.x-k8s.io/v1alpha1", [], 0), false)).toBe(true);
    expect(isStopped(cr("agents.x-k8s.io/v1alpha1", [], 1), false)).toBe(false);
  });

  test("a stop the controller refuses because it does not own the pod is reported", () => {
    const refused = cr("agents.x-k8s.io/v1beta1", [
      { type: "Suspended", status: "False", reason: "PodNotOwned", message: "Refused to delete pod because it is not owned by this sandbox" },
    ]);
    expect(stopRejection(refused)).toBe(
      "Kubernetes sandbox stop rejected: Refused to delete pod because it is not owned by this sandbox",
    );
    const silent = cr("agents.x-k8s.io/v1beta1", [{ type: "Suspended", status: "False", reason: "PodNotOwned" }]);
    expect(stopRejection(silent)).toBe("Kubernetes sandbox stop rejected: backing pod is not owned by this sandbox");
    expect(stopRejection(cr("agents.x-k8s.io/v1beta1", [{ type: "Suspended", status: "False", reason: "PodTerminating" }]))).toBeUndefined();
  });
});
