// A new sandbox must start with an empty /sandbox. Its workspace claim is named
// `workspace-<CR name>` by the agent-sandbox controller (volumeClaimTemplates), so a sandbox
// deleted and re-created under the same workspace and name asks for the claim name its predecessor
// had. With Background deletion the old CR is gone at once and the garbage collector deletes the
// old claim some time later (and a claim in use waits for its pod: kubernetes.io/pvc-protection).
// The controller (v0.5+) refuses a claim owned by another Sandbox UID, but adopts an unowned claim
// carrying the name-hash label of the same CR name (an orphaned old claim, after
// `--cascade=orphan`), and older controllers match by name alone. So the create is refused while
// such a claim exists: ABORTED while an old sandbox's claim awaits deletion (retry later), and
// FAILED_PRECONDITION for an unowned claim that would be taken over. A claim owned by the live CR
// of that name is that sandbox's: the create then meets the name conflict it would anyway.
import { isKubeApiError, type KubeClient } from "../kube";
import type { ValidatedSandbox } from "../sandbox";
import { failedPrecondition } from "../sandbox/errors";
import { SANDBOX_GROUP } from "../sandbox/types";
import { injectsWorkspace, WORKSPACE_VOLUME } from "../sandbox/workspace-volume";
import { DriverError } from "./errors";
import type { SandboxLookup } from "./sandbox-lookup";

interface ClaimMetadata {
  metadata: {
    deletionTimestamp?: string;
    ownerReferences?: { apiVersion: string; kind: string; uid: string; controller?: boolean }[];
  };
}

export async function ensureNoLeftoverWorkspaceClaim(client: KubeClient, lookup: Pick<SandboxLookup, "byName">, v: ValidatedSandbox): Promise<void> {
  if (!injectsWorkspace(v.driverConfig)) return;
  const { namespace, kubeName } = v;
  const claimName = `${WORKSPACE_VOLUME}-${kubeName}`;
  let claim: ClaimMetadata;
  try {
    claim = await client.request<ClaimMetadata>({
      verb: "get",
      path: `/api/v1/namespaces/${namespace}/persistentvolumeclaims/${claimName}`,
      resource: "persistentvolumeclaims",
      namespace,
      name: claimName,
    });
  } catch (err) {
    if (isKubeApiError(err, 404)) return;
    throw err;
  }
  const owner = (claim.metadata.ownerReferences ?? []).find((ref) => ref.apiVersion.split("/")[0] === SANDBOX_GROUP && ref.kind === "Sandbox");
  if (owner && !claim.metadata.deletionTimestamp) {
    const live = await lookup.byName(namespace, kubeName);
    if (live?.metadata.uid === owner.uid && !live.metadata.deletionTimestamp) return;
  }
  if (owner || claim.metadata.deletionTimestamp) {
    throw new DriverError(
      "Aborted",
      `sandbox.name: the workspace claim "${claimName}" of an earlier sandbox named "${v.sandbox.name}" in workspace "${v.sandbox.workspace}" is still being deleted, and a new sandbox must not inherit its files; retry once it is gone`,
    );
  }
  throw failedPrecondition(
    "sandbox.name",
    `PersistentVolumeClaim "${claimName}" in namespace "${namespace}" already exists and belongs to no sandbox: a new sandbox named "${v.sandbox.name}" would take over its files as its /sandbox; delete the claim or choose another name`,
  );
}
