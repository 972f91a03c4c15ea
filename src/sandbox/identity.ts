// The sandbox user and group, resolved per target namespace at create time (upstream
// `resolve_sandbox_identity_in_namespace`). OpenShift gives every namespace its own UID range and
// admits only UIDs inside it, so a fixed 1000 would be refused there; the driver reads the range
// from the namespace's annotations, which the caller fetched.

import { failedPrecondition } from "./errors";
import type { RenderSettings, SandboxIdentity } from "./settings";

export const ANNOTATION_SCC_UID_RANGE = "openshift.io/sa.scc.uid-range";
export const ANNOTATION_SCC_SUPPLEMENTAL_GROUPS = "openshift.io/sa.scc.supplemental-groups";

const DEFAULT_SANDBOX_UID = 1000;
/** The ids the supervisor accepts: 0 is root, 2^32-1 means "unchanged" to Linux. */
const MIN_ID = 1;
const MAX_ID = 4_294_967_294;

type IdentitySettings = Pick<RenderSettings, "sandboxUid" | "sandboxGid">;

/** The start of an OpenShift range annotation (`1000680000/10000`), if it is a usable id. */
function rangeStart(annotation: string | undefined): number | undefined {
  const slash = annotation?.indexOf("/") ?? -1;
  if (annotation === undefined || slash < 0) return undefined;
  const start = annotation.slice(0, slash).trim();
  if (!/^\+?\d+$/.test(start)) return undefined;
  const id = Number(start);
  return id >= MIN_ID && id <= MAX_ID ? id : undefined;
}

/**
 * UID: the configured one, else the namespace's `sa.scc.uid-range` start, else 1000.
 * GID: the configured one, else the configured UID, else the `sa.scc.supplemental-groups` start,
 * else the resolved UID.
 */
export function resolveSandboxIdentity(
  settings: IdentitySettings,
  namespaceAnnotations: Record<string, string>,
): SandboxIdentity {
  if (settings.sandboxUid !== undefined) {
    return { uid: settings.sandboxUid, gid: settings.sandboxGid ?? settings.sandboxUid };
  }
  const uid = rangeStart(namespaceAnnotations[ANNOTATION_SCC_UID_RANGE]) ?? DEFAULT_SANDBOX_UID;
  const gid = settings.sandboxGid ?? rangeStart(namespaceAnnotations[ANNOTATION_SCC_SUPPLEMENTAL_GROUPS]) ?? uid;
  return { uid, gid };
}

/**
 * The OpenShift range annotations copied onto the Sandbox CR, recording where its identity came
 * from. Upstream reads the namespace only when no UID is configured, so only then are they copied.
 */
export function identityAnnotations(
  settings: IdentitySettings,
  namespaceAnnotations: Record<string, string>,
): Record<string, string> {
  if (settings.sandboxUid !== undefined) return {};
  const copied: Record<string, string> = {};
  for (const key of [ANNOTATION_SCC_UID_RANGE, ANNOTATION_SCC_SUPPLEMENTAL_GROUPS]) {
    const value = namespaceAnnotations[key];
    if (value !== undefined) copied[key] = value;
  }
  return copied;
}

/**
 * In the sidecar topology the network proxy's UID is exempt from the pod's egress fence; were it
 * the sandbox user's too, the workload would bypass the fence. Upstream checks the configured
 * proxy UID even when binary-aware mode runs the proxy as root.
 */
export function checkSidecarProxyIdentity(
  settings: Pick<RenderSettings, "supervisorTopology" | "sidecarProxyUid">,
  identity: SandboxIdentity,
): void {
  if (settings.supervisorTopology === "sidecar" && settings.sidecarProxyUid === identity.uid) {
    throw failedPrecondition(
      "--sidecar-proxy-uid",
      `proxy UID (${settings.sidecarProxyUid}) must not match the sandbox UID (${identity.uid}) in sidecar topology`,
    );
  }
}
