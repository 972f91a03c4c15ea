// The parts of an OpenShift SecurityContextConstraints object (security.openshift.io/v1) that
// decide whether a pod is admitted. Field names and nulls as the API serves them.

export type SccStrategyType = "MustRunAs" | "MustRunAsRange" | "MustRunAsNonRoot" | "RunAsAny";

export interface IdRange {
  min?: number | null;
  max?: number | null;
}

export interface SeLinuxOptions {
  user?: string;
  role?: string;
  type?: string;
  level?: string;
}

export interface SccStrategy {
  type?: SccStrategyType | null;
  /** runAsUser only: fixed bounds instead of the namespace's range. */
  uid?: number | null;
  uidRangeMin?: number | null;
  uidRangeMax?: number | null;
  /** fsGroup and supplementalGroups: fixed ranges instead of the namespace's. */
  ranges?: IdRange[] | null;
  /** seLinuxContext only. */
  seLinuxOptions?: SeLinuxOptions | null;
}

export interface SecurityContextConstraints {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; [key: string]: unknown };
  priority?: number | null;
  allowPrivilegedContainer?: boolean | null;
  allowPrivilegeEscalation?: boolean | null;
  defaultAllowPrivilegeEscalation?: boolean | null;
  /** `*` allows any. */
  allowedCapabilities?: string[] | null;
  defaultAddCapabilities?: string[] | null;
  /** Added to every container's drop list; `ALL` still lets a container add an allowed one back. */
  requiredDropCapabilities?: string[] | null;
  allowHostDirVolumePlugin?: boolean | null;
  allowHostIPC?: boolean | null;
  allowHostNetwork?: boolean | null;
  allowHostPID?: boolean | null;
  allowHostPorts?: boolean | null;
  readOnlyRootFilesystem?: boolean | null;
  runAsUser?: SccStrategy | null;
  seLinuxContext?: SccStrategy | null;
  fsGroup?: SccStrategy | null;
  supplementalGroups?: SccStrategy | null;
  /** `runtime/default`, `unconfined`, `localhost/<path>`, `*`; the first is the default. */
  seccompProfiles?: string[] | null;
  /** Volume plugin names as SCCs spell them (`emptyDir`, `persistentVolumeClaim`, `*`…). */
  volumes?: string[] | null;
  /** `RequirePodLevel` admits only pods with `hostUsers: false`; absent means AllowHostLevel. */
  userNamespaceLevel?: "AllowHostLevel" | "RequirePodLevel" | null;
  users?: string[] | null;
  groups?: string[] | null;
}
