// Would OpenShift's SCC admission admit this pod under this SCC? Mirrors apiserver-library-go's
// provider: it first fills in what the pod leaves unset (defaults that always fit), then checks
// what the pod asks for against the SCC. Returns every misfit, each naming the pod field, so
// ValidateSandboxCreate can answer FAILED_PRECONDITION instead of the controller's pod being
// refused later. Pure.
//
// Ephemeral containers are not checked: they are added after creation through their own
// subresource and are never part of the pod the controller creates.

import type { V1Container, V1PodSpec, V1Volume } from "@kubernetes/client-node";
import type { SecurityContextConstraints } from "./scc";
import { groupMisfits, runAsUserMisfits, seLinuxMisfits } from "./scc-id-rules";
import type { ContainerAt, SccMisfit, SccRuleInput } from "./scc-misfit";
import { seccompMisfits } from "./scc-seccomp";

export type { SccMisfit } from "./scc-misfit";

const HOST_NAMESPACES = [
  { field: "hostNetwork", allow: "allowHostNetwork", what: "the host network" },
  { field: "hostPID", allow: "allowHostPID", what: "the host PID namespace" },
  { field: "hostIPC", allow: "allowHostIPC", what: "the host IPC namespace" },
] as const;

/** Kubernetes refuses allowPrivilegeEscalation=false together with either of these. */
const NEEDS_ESCALATION_CAPABILITIES = new Set(["SYS_ADMIN", "CAP_SYS_ADMIN"]);

function containersOf(pod: V1PodSpec): ContainerAt[] {
  return [
    ...(pod.initContainers ?? []).map((container) => ({ path: `spec.initContainers[${container.name}]`, container })),
    ...pod.containers.map((container) => ({ path: `spec.containers[${container.name}]`, container })),
  ];
}

/** The SCC name of a volume's plugin is its set VolumeSource field; none set is defaulted to emptyDir. */
function volumeType(volume: V1Volume): string {
  const source = Object.entries(volume).find(([key, value]) => key !== "name" && value !== undefined && value !== null);
  return source ? source[0] : "emptyDir";
}

function hostMisfits(pod: V1PodSpec, { scc, label }: SccRuleInput): SccMisfit[] {
  return HOST_NAMESPACES.filter((h) => pod[h.field] === true && scc[h.allow] !== true).map((h) => ({
    field: `spec.${h.field}`,
    message: `${label} does not allow ${h.what} (${h.allow}: false)`,
  }));
}

function userNamespaceMisfits(pod: V1PodSpec, { scc, label }: SccRuleInput): SccMisfit[] {
  if (scc.userNamespaceLevel !== "RequirePodLevel" || pod.hostUsers === false) return [];
  return [{ field: "spec.hostUsers", message: `${label} requires a user namespace: hostUsers must be false (RequirePodLevel)` }];
}

function volumeMisfits(pod: V1PodSpec, { scc, label }: SccRuleInput): SccMisfit[] {
  const allowed = scc.volumes ?? [];
  const misfits: SccMisfit[] = [];
  for (const volume of pod.volumes ?? []) {
    const type = volumeType(volume);
    const field = `spec.volumes[${volume.name}].${type}`;
    if (!allowed.includes("*") && !allowed.includes(type)) {
      const list = allowed.filter((v) => v !== "none");
      misfits.push({
        field,
        message: list.length === 0 ? `${label} allows no volumes` : `${label} allows only volumes [${list.join(", ")}]`,
      });
    } else if (type === "hostPath" && scc.allowHostDirVolumePlugin !== true) {
      misfits.push({ field, message: `${label} does not allow hostPath volumes (allowHostDirVolumePlugin: false)` });
    }
  }
  return misfits;
}

function capabilityMisfits(path: string, container: V1Container, { scc, label }: SccRuleInput): SccMisfit[] {
  const allowed = scc.allowedCapabilities ?? [];
  if (allowed.includes("*")) return [];
  const requiredDrop = scc.requiredDropCapabilities ?? [];
  const defaultAdd = scc.defaultAddCapabilities ?? [];
  const misfits: SccMisfit[] = [];
  for (const cap of container.securityContext?.capabilities?.add ?? []) {
    if (allowed.includes(cap) || defaultAdd.includes(cap)) continue;
    misfits.push({
      field: `${path}.securityContext.capabilities.add[${cap}]`,
      message: requiredDrop.includes(cap)
        ? `${label} requires dropping ${cap}`
        : allowed.length === 0
          ? `${label} allows adding no capabilities`
          : `${label} allows only capabilities [${allowed.join(", ")}]`,
    });
  }
  return misfits;
}

function escalationMisfits(path: string, container: V1Container, { scc, label }: SccRuleInput): SccMisfit[] {
  const context = container.securityContext ?? {};
  const field = `${path}.securityContext.allowPrivilegeEscalation`;
  if (context.allowPrivilegeEscalation === true && scc.allowPrivilegeEscalation === false) {
    return [{ field, message: `${label} does not allow privilege escalation (allowPrivilegeEscalation: false)` }];
  }
  if (context.allowPrivilegeEscalation !== undefined) return [];
  // Admission fills an unset value from the SCC; Kubernetes' own pod validation, which runs after
  // admission, then refuses `false` next to privileged or CAP_SYS_ADMIN.
  const defaulted = scc.defaultAllowPrivilegeEscalation ?? (scc.allowPrivilegeEscalation === false ? false : undefined);
  const adds = context.capabilities?.add ?? [];
  if (defaulted === false && (context.privileged === true || adds.some((c) => NEEDS_ESCALATION_CAPABILITIES.has(c)))) {
    return [{ field, message: `${label} defaults allowPrivilegeEscalation to false, which Kubernetes refuses next to privileged or SYS_ADMIN` }];
  }
  return [];
}

/** The per-container rules that look at one container alone. */
function containerMisfits({ path, container }: ContainerAt, input: SccRuleInput): SccMisfit[] {
  const { scc, label } = input;
  const context = container.securityContext ?? {};
  const misfits: SccMisfit[] = [];
  if (context.privileged === true && scc.allowPrivilegedContainer !== true) {
    misfits.push({ field: `${path}.securityContext.privileged`, message: `${label} does not allow privileged containers` });
  }
  misfits.push(...capabilityMisfits(path, container, input), ...escalationMisfits(path, container, input));
  if (scc.readOnlyRootFilesystem === true && context.readOnlyRootFilesystem === false) {
    misfits.push({ field: `${path}.securityContext.readOnlyRootFilesystem`, message: `${label} requires a read-only root filesystem` });
  }
  for (const port of container.ports ?? []) {
    if (port.hostPort && scc.allowHostPorts !== true) {
      misfits.push({
        field: `${path}.ports[${port.name ?? port.containerPort}].hostPort`,
        message: `${label} does not allow host ports (allowHostPorts: false)`,
      });
    }
  }
  return misfits;
}

/** Empty = admitted. A pod-level value inherited by several containers is reported once. */
export function fitsScc(
  pod: V1PodSpec,
  scc: SecurityContextConstraints,
  namespaceAnnotations: Record<string, string>,
): SccMisfit[] {
  const input: SccRuleInput = { scc, label: `SCC ${JSON.stringify(scc.metadata.name)}`, namespaceAnnotations };
  const containers = containersOf(pod);
  const misfits = [
    ...hostMisfits(pod, input),
    ...userNamespaceMisfits(pod, input),
    ...volumeMisfits(pod, input),
    ...containers.flatMap((c) => containerMisfits(c, input)),
    ...runAsUserMisfits(pod, containers, input),
    ...groupMisfits(pod, input),
    ...seLinuxMisfits(pod, containers, input),
    ...seccompMisfits(pod, containers, input),
  ];
  const seen = new Set<string>();
  return misfits.filter((m) => {
    const key = `${m.field}\n${m.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
