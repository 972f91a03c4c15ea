// Label and annotation keys the driver writes and reads. One place, so the watch selector, the
// renderer and the observer can never disagree on a spelling.

import { checkSandboxId } from "./sandbox-id";

export const LABEL_SANDBOX_ID = "openshell.ai/sandbox-id";
export const LABEL_SANDBOX_NAME = "openshell.ai/sandbox-name";
export const LABEL_SANDBOX_WORKSPACE = "openshell.ai/sandbox-workspace";
export const LABEL_MANAGED_BY = "openshell.ai/managed-by";
export const MANAGED_BY_VALUE = "openshell";
export const LABEL_GATEWAY_ID = "openshell.ai/gateway-id";
export const LABEL_KAGENTI_TYPE = "kagenti.io/type";
export const KAGENTI_TYPE_VALUE = "agent";

/** Read by the gateway's ServiceAccount authenticator on the live pod (`auth/k8s_sa.rs`). */
export const ANNOTATION_SANDBOX_ID = "openshell.io/sandbox-id";
/** Written by the agent-sandbox controller once it has created (or adopted) the pod. */
export const ANNOTATION_POD_NAME = "agents.x-k8s.io/pod-name";

/** Label selector matching every Sandbox CR and pod this gateway manages. */
export function managedSelector(gatewayId: string): string {
  return `${LABEL_MANAGED_BY}=${MANAGED_BY_VALUE},${LABEL_GATEWAY_ID}=${gatewayId}`;
}

/**
 * Label selector matching the CR (and pod) of one sandbox of this gateway. The id is checked here
 * too, so no caller can build a selector that matches more than that one id.
 */
export function sandboxSelector(gatewayId: string, sandboxId: string): string {
  checkSandboxId(sandboxId, "sandbox_id");
  return `${managedSelector(gatewayId)},${LABEL_SANDBOX_ID}=${sandboxId}`;
}

/** As sandboxSelector, for the CRs (and pods) of any of several sandboxes; one id gives the same selector. */
export function sandboxesSelector(gatewayId: string, sandboxIds: readonly string[]): string {
  if (sandboxIds.length === 1) return sandboxSelector(gatewayId, sandboxIds[0]!);
  if (sandboxIds.length === 0) throw new Error("a selector of sandbox ids needs at least one id");
  for (const id of sandboxIds) checkSandboxId(id, "sandbox_id");
  return `${managedSelector(gatewayId)},${LABEL_SANDBOX_ID} in (${sandboxIds.join(",")})`;
}
