import { describe, expect, test } from "bun:test";
import type { V1Pod } from "@kubernetes/client-node";
import { observeSandbox, renderSandbox, sandboxIdOf, validateSandbox, type SandboxResource } from "../../src/sandbox";
import { makeSandbox, makeSettings } from "./fixtures";

function createdCr(): SandboxResource {
  const settings = makeSettings();
  return renderSandbox(validateSandbox(makeSandbox(), settings), settings);
}

function withStatus(cr: SandboxResource): SandboxResource {
  return {
    ...cr,
    metadata: { ...cr.metadata, annotations: { ...cr.metadata.annotations, "agents.x-k8s.io/pod-name": "alice--demo" } },
    status: {
      conditions: [
        {
          type: "Ready",
          status: "False",
          reason: "DependenciesNotReady",
          message: "Pod exists with phase: Pending",
          lastTransitionTime: "2026-08-21T10:00:00Z",
          observedGeneration: 1,
        },
        { type: "Suspended", status: "False", reason: "NotSuspended", lastTransitionTime: new Date("2026-08-21T10:00:01.500Z") },
      ],
    },
  };
}

describe("observeSandbox", () => {
  test("a CR being deleted before the controller wrote any status still reports deleting", () => {
    const cr = createdCr();
    cr.metadata.deletionTimestamp = "2026-08-21T10:00:00Z";
    const snapshot = observeSandbox(cr, undefined);
    expect(snapshot?.status?.deleting).toBe(true);
    expect(snapshot?.status?.conditions).toEqual([]);
  });

  test("the snapshot carries the gateway's sandbox name, not the Kubernetes object name", () => {
    const snapshot = observeSandbox(createdCr(), undefined);
    expect(snapshot?.id).toBe("sb-0123456789abcdef");
    expect(snapshot?.name).toBe("demo");
    expect(snapshot?.workspace).toBe("alice");
    expect(snapshot?.namespace).toBe("openshell");
  });

  test("a CR the controller has not reconciled yet has no status", () => {
    expect(observeSandbox(createdCr(), undefined)?.status).toBeUndefined();
  });

  test("conditions that say more than their reason are passed through as written, timestamps as RFC 3339", () => {
    const status = observeSandbox(withStatus(createdCr()), undefined)?.status;
    expect(status?.sandboxName).toBe("alice--demo");
    expect(status?.deleting).toBe(false);
    expect(
      status?.conditions.map(({ type, status, reason, message, lastTransitionTime }) => ({
        type,
        status,
        reason,
        message,
        lastTransitionTime,
      })),
    ).toEqual([
      {
        type: "Ready",
        status: "False",
        reason: "DependenciesNotReady",
        message: "Pod exists with phase: Pending",
        lastTransitionTime: "2026-08-21T10:00:00Z",
      },
      { type: "Suspended", status: "False", reason: "NotSuspended", message: "", lastTransitionTime: "2026-08-21T10:00:01Z" },
    ]);
  });

  test("a Ready sandbox's conditions leave out the controller's messages that only restate their reason; every other message passes as written", () => {
    const cr = createdCr();
    const at = "2026-08-21T10:00:00Z";
    cr.status = {
      conditions: [
        { type: "Ready", status: "True", reason: "DependenciesReady", message: "Pod is Ready; Service Exists", lastTransitionTime: at },
        { type: "Suspended", status: "False", reason: "NotSuspended", message: "Sandbox is not suspended", lastTransitionTime: at },
        { type: "PodScheduled", status: "True", reason: "PodScheduled", message: "", lastTransitionTime: at },
        { type: "Finished", status: "False", reason: "NotSuspended", message: "Pod is Ready", lastTransitionTime: at },
      ],
    };
    const messages = (c: SandboxResource) => observeSandbox(c, undefined)?.status?.conditions.map((x) => [x.type, x.reason, x.message]);
    expect(messages(cr)).toEqual([
      ["Ready", "DependenciesReady", ""],
      ["Suspended", "NotSuspended", ""],
      ["PodScheduled", "PodScheduled", ""],
      ["Finished", "NotSuspended", "Pod is Ready"],
    ]);
    cr.status.conditions![0] = { type: "Ready", status: "False", reason: "DependenciesNotReady", message: "Pod is Ready; Service does not exist", lastTransitionTime: at };
    cr.status.conditions![1] = { type: "Suspended", status: "False", reason: "NotSuspended", message: "Sandbox is not suspended (yet)", lastTransitionTime: at };
    expect(messages(cr)?.slice(0, 2)).toEqual([
      ["Ready", "DependenciesNotReady", "Pod is Ready; Service does not exist"],
      ["Suspended", "NotSuspended", "Sandbox is not suspended (yet)"],
    ]);
  });

  test("the instance id is the live pod's name, else the controller's pod-name annotation", () => {
    const cr = withStatus(createdCr());
    const pod: V1Pod = { metadata: { name: "warm-pool-pod-7" } };
    expect(observeSandbox(cr, pod)?.status?.instanceId).toBe("warm-pool-pod-7");
    expect(observeSandbox(cr, undefined)?.status?.instanceId).toBe("alice--demo");
    const noAnnotation = { ...cr, metadata: { ...cr.metadata, annotations: {} } };
    expect(observeSandbox(noAnnotation, undefined)?.status?.instanceId).toBe("");
  });

  test("a CR being deleted is reported as deleting", () => {
    const cr = withStatus(createdCr());
    cr.metadata.deletionTimestamp = "2026-08-21T11:00:00Z";
    expect(observeSandbox(cr, undefined)?.status?.deleting).toBe(true);
  });

  test("CRs not managed by OpenShell, or missing an identity, are ignored", () => {
    const cr = { ...createdCr(), metadata: { ...createdCr().metadata, annotations: {} } };
    const labels = cr.metadata.labels ?? {};
    expect(observeSandbox({ ...cr, metadata: { ...cr.metadata, labels: { ...labels, "openshell.ai/managed-by": "someone" } } }, undefined)).toBeUndefined();
    const { "openshell.ai/sandbox-name": _, ...noName } = labels;
    expect(observeSandbox({ ...cr, metadata: { ...cr.metadata, labels: noName } }, undefined)).toBeUndefined();
    const { "openshell.ai/sandbox-id": __, ...noId } = labels;
    expect(observeSandbox({ ...cr, metadata: { name: "x", labels: noId } }, undefined)).toBeUndefined();
  });

  test("identity annotations win over labels, as upstream reads them", () => {
    const cr = createdCr();
    const labels = { ...cr.metadata.labels, "openshell.ai/sandbox-name": "label-name" };
    expect(observeSandbox({ ...cr, metadata: { ...cr.metadata, labels } }, undefined)?.name).toBe("demo");
  });

  test("the id annotation wins over the id label", () => {
    expect(
      sandboxIdOf({ metadata: { labels: { "openshell.ai/sandbox-id": "label" }, annotations: { "openshell.io/sandbox-id": "annotation" } } }),
    ).toBe("annotation");
    expect(sandboxIdOf({ metadata: { labels: { "openshell.ai/sandbox-id": "label" } } })).toBe("label");
    expect(sandboxIdOf({})).toBeUndefined();
  });
});
