// What the agent container may do, per topology. In the combined topology the supervisor runs as
// root inside the agent container and builds the sandbox's network namespace, proxy, Landlock and
// seccomp itself, then drops to the sandbox user for the workload; in the sidecar topology that
// work moves to helper containers and the agent container keeps no privilege at all.

import type { V1PodSecurityContext, V1SecurityContext } from "@kubernetes/client-node";
import type { PlatformConfig } from "./platform-config";
import type { RenderSettings, SandboxIdentity } from "./settings";

const AGENT_CAPABILITIES = ["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYSLOG"];
/**
 * A user namespace resets the bounding set: SETUID/SETGID let the supervisor switch to the sandbox
 * user, DAC_READ_SEARCH lets it read other UIDs' /proc/<pid>/fd to attribute connections.
 */
const USER_NAMESPACE_CAPABILITIES = ["SETUID", "SETGID", "DAC_READ_SEARCH"];

/** A sandbox's own `host_users` wins; without one, the driver-wide default applies. */
export function usesUserNamespaces(
  platformConfig: Pick<PlatformConfig, "hostUsers">,
  settings: Pick<RenderSettings, "enableUserNamespaces">,
): boolean {
  return platformConfig.hostUsers === undefined ? settings.enableUserNamespaces : !platformConfig.hostUsers;
}

/** The AppArmor profile goes on the agent and on every helper that runs supervisor code. */
export function withAppArmor(
  context: V1SecurityContext,
  settings: Pick<RenderSettings, "appArmorProfile">,
): V1SecurityContext {
  const profile = settings.appArmorProfile;
  return profile ? { ...context, appArmorProfile: { ...profile } } : context;
}

export function combinedAgentSecurityContext(userNamespaces: boolean, settings: RenderSettings): V1SecurityContext {
  const add = userNamespaces ? [...AGENT_CAPABILITIES, ...USER_NAMESPACE_CAPABILITIES] : [...AGENT_CAPABILITIES];
  // Root whatever the image's USER says: the supervisor needs it to build the sandbox.
  return withAppArmor({ runAsUser: 0, capabilities: { add } }, settings);
}

/** Sidecar topology: the process supervisor and the workload run as the sandbox user, unprivileged. */
export function sidecarAgentSecurityContext(identity: SandboxIdentity, settings: RenderSettings): V1SecurityContext {
  return withAppArmor(
    {
      runAsUser: identity.uid,
      runAsGroup: identity.gid,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    },
    settings,
  );
}

/**
 * The pod-level context: fsGroup where volumes must be group-readable, and the seccomp profile set
 * by --seccomp-profile. On hardened nodes (Garden Linux) the runtime's default profile blocks
 * what the supervisor does to build the sandbox, so such clusters run sandbox pods Unconfined and
 * rely on the filter the supervisor installs for the workload. Undefined = nothing to set.
 */
export function podSecurityContext(
  fsGroup: number | undefined,
  settings: Pick<RenderSettings, "seccompProfile">,
): V1PodSecurityContext | undefined {
  const context: V1PodSecurityContext = {};
  if (fsGroup !== undefined) context.fsGroup = fsGroup;
  if (settings.seccompProfile) context.seccompProfile = { ...settings.seccompProfile };
  return Object.keys(context).length > 0 ? context : undefined;
}
