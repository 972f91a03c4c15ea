// Stop and start: how a Sandbox CR is suspended or resumed, and how to tell it has stopped.

import type { SandboxApiVersion } from "./settings";
import type { SandboxResource } from "./types";

/** Merge patch that starts or stops the sandbox (v1alpha1 has replicas instead of operatingMode). */
export function lifecyclePatch(apiVersion: SandboxApiVersion, running: boolean): object {
  if (apiVersion === "v1beta1") return { spec: { operatingMode: running ? "Running" : "Suspended" } };
  return { spec: { replicas: running ? 1 : 0 } };
}

function condition(cr: SandboxResource, type: string) {
  return cr.status?.conditions?.find((c) => c.type === type);
}

/**
 * v1beta1: the controller reports Suspended=True once the pod is gone. v1alpha1 has no such
 * condition, so stopped means "asked to stop" (replicas 0) and the pod no longer exists.
 */
export function isStopped(cr: SandboxResource, podExists: boolean): boolean {
  if (cr.apiVersion === "agents.x-k8s.io/v1alpha1") return cr.spec.replicas === 0 && !podExists;
  return condition(cr, "Suspended")?.status === "True";
}

/** Why the controller refused to stop the sandbox, if it did (it never deletes a pod it does not own). */
export function stopRejection(cr: SandboxResource): string | undefined {
  const suspended = condition(cr, "Suspended");
  if (suspended?.status !== "False" || suspended.reason !== "PodNotOwned") return undefined;
  return `Kubernetes sandbox stop rejected: ${suspended.message || "backing pod is not owned by this sandbox"}`;
}
