// Whose a PersistentVolumeClaim is, for `driver_config.volumes[].persistent_volume_claim`. A
// request names any claim it likes; mounting it hands the workload its files. So a claim is
// mountable only when it is the requesting workspace's and no sandbox's own /sandbox claim:
// - a Sandbox's workspace claim carries a controller ownerReference to its Sandbox CR (agent-sandbox
//   `SetControllerReference`) and the controller's `agents.x-k8s.io/sandbox-name-hash` label, which
//   it keeps even when orphaned (a claim carrying the driver's sandbox-id label is one too). Never mountable: a
//   stopped sandbox's claim is free, so ReadWriteOnce would not stop a second mount.
// - in shared mode every workspace's claims live in one namespace, so a claim is a workspace's only
//   when the operator says so: label `openshell.ai/sandbox-workspace=<workspace>`;
// - in managed and operator mode the namespace is the workspace's, so its claims are too, unless
//   labelled for another workspace.
// The answer for a claim that exists but is not the caller's is the one for a claim that does not
// exist, word for word, so a request cannot learn what other workspaces hold.

import { failedPrecondition, type SandboxRequestError } from "./errors";
import { LABEL_SANDBOX_ID, LABEL_SANDBOX_WORKSPACE } from "./labels";
import { SANDBOX_GROUP } from "./types";
import type { WorkspaceMode } from "./settings";

/** The agent-sandbox controller's tracking label on the pods, Services and claims it makes. */
export const LABEL_SANDBOX_NAME_HASH = "agents.x-k8s.io/sandbox-name-hash";

export interface ClaimMetadata {
  labels?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string }[];
}

export interface ClaimRequester {
  workspace: string;
  workspaceMode: WorkspaceMode;
}

export function isSandboxClaim(claim: ClaimMetadata): boolean {
  const labels = claim.labels ?? {};
  if (LABEL_SANDBOX_NAME_HASH in labels || LABEL_SANDBOX_ID in labels) return true;
  return (claim.ownerReferences ?? []).some((ref) => ref.apiVersion.split("/")[0] === SANDBOX_GROUP);
}

export function claimBelongsTo(claim: ClaimMetadata, requester: ClaimRequester): boolean {
  if (isSandboxClaim(claim)) return false;
  const labelled = claim.labels?.[LABEL_SANDBOX_WORKSPACE];
  if (requester.workspaceMode === "shared") return labelled === requester.workspace;
  return labelled === undefined || labelled === requester.workspace;
}

/** One refusal for "no such claim" and "not yours": FAILED_PRECONDITION naming the request field. */
export function claimUnavailable(field: string, claimName: string, namespace: string, requester: ClaimRequester): SandboxRequestError {
  const rule =
    requester.workspaceMode === "shared"
      ? `a claim is the workspace's when it carries label ${LABEL_SANDBOX_WORKSPACE}=${requester.workspace}`
      : `a claim in the workspace's namespace is the workspace's unless labelled ${LABEL_SANDBOX_WORKSPACE} for another workspace`;
  return failedPrecondition(
    field,
    `workspace "${requester.workspace}" has no PersistentVolumeClaim "${claimName}" in namespace "${namespace}" (${rule}; a sandbox's own workspace claim is never mountable)`,
  );
}
