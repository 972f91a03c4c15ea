// The Kubernetes Pod Security Standards (latest version), as the PodSecurity admission plugin
// checks them (k8s.io/pod-security-admission/policy), so the driver can say before creating a
// Sandbox which `pod-security.kubernetes.io/enforce` level its pod needs and why. Pure and
// platform-neutral: the Kyma adapter and the doctor command share it.
//
// Modelled as the newest policy version, and conservatively, so a pod is never reported as
// fitting a level admission would refuse:
// - `hostUsers: false` is not modelled. From policy version 1.35 PSA skips the restricted
//   runAsNonRoot/runAsUser checks and the baseline procMount check for user-namespaced pods (before
//   1.35 only behind the perma-alpha UserNamespacesPodSecurityStandards gate). The driver cannot see
//   the API server's version, its emulation version or a namespace's `enforce-version` pin, so it
//   checks those fields as if the pod shared the host's user namespace.
// - Windows pods (`spec.os.name: windows`) get no exemptions; sandboxes are Linux pods.
// - Sysctls safe only from 1.37 (tcp_slow_start_after_idle, tcp_notsent_lowat) count as unsafe.
// - Only the pod spec is seen: the deprecated AppArmor and seccomp annotations, which the driver
//   never writes, are not checked.
import type { V1Capabilities, V1Container, V1EphemeralContainer, V1PodSpec, V1SecurityContext } from "@kubernetes/client-node";

export type PodSecurityLevel = "privileged" | "baseline" | "restricted";

/** The namespace label PodSecurity admission enforces. */
export const LABEL_PSA_ENFORCE = "pod-security.kubernetes.io/enforce";

/** Most permissive first: a namespace at index i admits pods that need index i or higher. */
const LEVELS: readonly PodSecurityLevel[] = ["privileged", "baseline", "restricted"];

/** Docker's default capability set, which baseline lets a container add back. */
const BASELINE_CAPABILITIES = new Set([
  "AUDIT_WRITE",
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "MKNOD",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
]);
const SELINUX_TYPES = new Set(["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"]);
/** Namespaced sysctls isolated from other pods (PSA baseline, up to 1.32's tcp_rmem/tcp_wmem). */
const SAFE_SYSCTLS = new Set([
  "kernel.shm_rmid_forced",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range",
  "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.tcp_keepalive_time",
  "net.ipv4.tcp_fin_timeout",
  "net.ipv4.tcp_keepalive_intvl",
  "net.ipv4.tcp_keepalive_probes",
  "net.ipv4.tcp_rmem",
  "net.ipv4.tcp_wmem",
]);
/** Inline volume sources restricted admits; `image` since 1.33, patched into every policy version. */
const RESTRICTED_VOLUME_SOURCES = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim", "projected", "secret"];

export interface PodSecurityRequirement {
  /** The most restrictive level that admits the pod. */
  level: PodSecurityLevel;
  /** Why the next stricter level refuses it, each naming the field; empty at restricted. */
  reasons: string[];
}

export function requiredPodSecurityLevel(pod: V1PodSpec): PodSecurityRequirement {
  const baseline = baselineViolations(pod);
  if (baseline.length > 0) return { level: "privileged", reasons: baseline };
  const restricted = restrictedViolations(pod);
  if (restricted.length > 0) return { level: "baseline", reasons: restricted };
  return { level: "restricted", reasons: [] };
}

/** Whether a namespace enforcing `namespaceLevel` admits a pod that needs `needed`. */
export function levelAllows(namespaceLevel: PodSecurityLevel, needed: PodSecurityLevel): boolean {
  return LEVELS.indexOf(namespaceLevel) <= LEVELS.indexOf(needed);
}

/**
 * The level a namespace enforces. Without the label the API server's AdmissionConfiguration
 * default applies, which the driver cannot read; Kubernetes ships it as privileged, so absent is
 * taken as privileged (messages say so: `describeNamespaceLevel`). A value PSA cannot parse makes
 * it refuse as restricted, and so does this.
 */
export function namespaceEnforceLevel(labels: Record<string, string>): PodSecurityLevel {
  const value = labels[LABEL_PSA_ENFORCE];
  if (value === undefined) return "privileged";
  return (LEVELS as readonly string[]).includes(value) ? (value as PodSecurityLevel) : "restricted";
}

/** The namespace's level for a message, saying when it is only assumed. */
export function describeNamespaceLevel(labels: Record<string, string>): string {
  const value = labels[LABEL_PSA_ENFORCE];
  if (value === undefined) {
    return `no ${LABEL_PSA_ENFORCE} label (assumed privileged, the Kubernetes default; the cluster's AdmissionConfiguration may set another default, which the driver cannot see)`;
  }
  const level = namespaceEnforceLevel(labels);
  return level === value ? `${LABEL_PSA_ENFORCE}=${value}` : `${LABEL_PSA_ENFORCE}=${value} (not a level; admission enforces restricted)`;
}

interface NamedContainer {
  path: string;
  container: V1Container | V1EphemeralContainer;
}

function allContainers(pod: V1PodSpec): NamedContainer[] {
  const named = (kind: string, list: (V1Container | V1EphemeralContainer)[] | undefined) =>
    (list ?? []).map((container) => ({ path: `spec.${kind}[${container.name}]`, container }));
  return [...named("initContainers", pod.initContainers), ...named("containers", pod.containers), ...named("ephemeralContainers", pod.ephemeralContainers)];
}

function baselineViolations(pod: V1PodSpec): string[] {
  const reasons: string[] = [];
  const podContext = pod.securityContext ?? {};
  for (const field of ["hostNetwork", "hostPID", "hostIPC"] as const) {
    if (pod[field] === true) reasons.push(`spec.${field} shares the host's namespace`);
  }
  if (podContext.windowsOptions?.hostProcess === true) reasons.push("spec.securityContext.windowsOptions.hostProcess is a Windows host process");
  reasons.push(...appArmorViolations("spec.securityContext", podContext.appArmorProfile));
  reasons.push(...seLinuxViolations("spec.securityContext", podContext.seLinuxOptions));
  if (podContext.seccompProfile?.type === "Unconfined") reasons.push("spec.securityContext.seccompProfile.type is Unconfined");
  for (const sysctl of podContext.sysctls ?? []) {
    if (!SAFE_SYSCTLS.has(sysctl.name)) reasons.push(`spec.securityContext.sysctls[${sysctl.name}] is not a safe sysctl`);
  }
  for (const volume of pod.volumes ?? []) {
    if (volume.hostPath) reasons.push(`spec.volumes[${volume.name}].hostPath mounts a host directory`);
  }
  for (const { path, container } of allContainers(pod)) {
    const context: V1SecurityContext = container.securityContext ?? {};
    const at = `${path}.securityContext`;
    if (context.privileged === true) reasons.push(`${at}.privileged is true`);
    if (context.windowsOptions?.hostProcess === true) reasons.push(`${at}.windowsOptions.hostProcess is a Windows host process`);
    for (const cap of context.capabilities?.add ?? []) {
      if (!BASELINE_CAPABILITIES.has(cap)) reasons.push(`${at}.capabilities.add[${cap}] is not in the baseline set`);
    }
    reasons.push(...appArmorViolations(at, context.appArmorProfile));
    reasons.push(...seLinuxViolations(at, context.seLinuxOptions));
    if (context.procMount !== undefined && context.procMount !== "Default") reasons.push(`${at}.procMount is ${context.procMount}, not Default`);
    if (context.seccompProfile?.type === "Unconfined") reasons.push(`${at}.seccompProfile.type is Unconfined`);
    for (const port of container.ports ?? []) {
      if (port.hostPort) reasons.push(`${path}.ports[${port.containerPort}].hostPort is ${port.hostPort}`);
    }
    reasons.push(...hostProbeViolations(path, container));
  }
  return reasons;
}

/** Baseline admits the runtime's default profile or one loaded on the node, never Unconfined. */
function appArmorViolations(at: string, profile: V1SecurityContext["appArmorProfile"]): string[] {
  if (!profile || profile.type === "RuntimeDefault" || profile.type === "Localhost") return [];
  return [`${at}.appArmorProfile.type is ${profile.type}`];
}

function seLinuxViolations(at: string, options: V1SecurityContext["seLinuxOptions"]): string[] {
  if (!options) return [];
  const reasons: string[] = [];
  if (!SELINUX_TYPES.has(options.type ?? "")) reasons.push(`${at}.seLinuxOptions.type ${options.type} is not a container type`);
  if (options.user) reasons.push(`${at}.seLinuxOptions.user is set`);
  if (options.role) reasons.push(`${at}.seLinuxOptions.role is set`);
  return reasons;
}

/** 1.34+: probes and lifecycle hooks may not aim at another host (kubelet would connect for the pod). */
function hostProbeViolations(path: string, container: V1Container | V1EphemeralContainer): string[] {
  const handlers = {
    livenessProbe: container.livenessProbe,
    readinessProbe: container.readinessProbe,
    startupProbe: container.startupProbe,
    "lifecycle.postStart": container.lifecycle?.postStart,
    "lifecycle.preStop": container.lifecycle?.preStop,
  };
  const reasons: string[] = [];
  for (const [name, handler] of Object.entries(handlers)) {
    if (handler?.httpGet?.host) reasons.push(`${path}.${name}.httpGet.host is set`);
    if (handler?.tcpSocket?.host) reasons.push(`${path}.${name}.tcpSocket.host is set`);
  }
  return reasons;
}

function restrictedViolations(pod: V1PodSpec): string[] {
  const reasons: string[] = [];
  const podContext = pod.securityContext ?? {};
  for (const volume of pod.volumes ?? []) {
    const source = volume as unknown as Record<string, unknown>;
    if (!RESTRICTED_VOLUME_SOURCES.some((type) => source[type] !== undefined && source[type] !== null)) {
      const type = Object.keys(volume).find((key) => key !== "name") ?? "unknown";
      reasons.push(`spec.volumes[${volume.name}].${type} is not a restricted volume type`);
    }
  }
  if (podContext.runAsUser === 0) reasons.push("spec.securityContext.runAsUser is 0 (root)");
  const podSeccomp = podContext.seccompProfile?.type;
  const podSeccompConfined = podSeccomp === "RuntimeDefault" || podSeccomp === "Localhost";
  for (const { path, container } of allContainers(pod)) {
    const context: V1SecurityContext = container.securityContext ?? {};
    const at = `${path}.securityContext`;
    if (context.allowPrivilegeEscalation !== false) reasons.push(`${at}.allowPrivilegeEscalation is not false`);
    if (context.runAsNonRoot === false || (context.runAsNonRoot === undefined && podContext.runAsNonRoot !== true)) {
      reasons.push(`${at}.runAsNonRoot is not true (nor spec.securityContext.runAsNonRoot)`);
    }
    if (context.runAsUser === 0) reasons.push(`${at}.runAsUser is 0 (root)`);
    const seccomp = context.seccompProfile?.type;
    if (seccomp === undefined ? !podSeccompConfined : seccomp !== "RuntimeDefault" && seccomp !== "Localhost") {
      reasons.push(`${at}.seccompProfile.type is not RuntimeDefault or Localhost (nor spec.securityContext.seccompProfile.type)`);
    }
    reasons.push(...restrictedCapabilityViolations(at, context.capabilities));
  }
  return reasons;
}

function restrictedCapabilityViolations(at: string, capabilities: V1Capabilities | undefined): string[] {
  const reasons: string[] = [];
  if (!(capabilities?.drop ?? []).includes("ALL")) reasons.push(`${at}.capabilities.drop does not include ALL`);
  for (const cap of capabilities?.add ?? []) {
    if (cap !== "NET_BIND_SERVICE") reasons.push(`${at}.capabilities.add[${cap}] is not NET_BIND_SERVICE`);
  }
  return reasons;
}
