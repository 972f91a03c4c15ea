// Public surface of the pure sandbox domain: validate → render → (kube) → observe / events.

export type { KubernetesDriverConfig, DriverVolume, DriverVolumeMount } from "./driver-config";
export { parseDriverConfig, RESERVED_VOLUME_NAMES } from "./driver-config";
export type { PlatformConfig } from "./platform-config";
export { parsePlatformConfig } from "./platform-config";
export { SandboxRequestError, type SandboxRequestErrorCode } from "./errors";
export { checkDns1123Label, checkDns1123Subdomain, checkLabelValue, checkQualifiedName, isDns1123Label } from "./dns";
export { isQuantity, quantityToNumber } from "./quantity";
export { checkImageReference, isImageReference } from "./image-ref";
export { checkEnvName } from "./env-name";
export { DRIVER_OWNED_ENV } from "./env";
export {
  ANNOTATION_SCC_SUPPLEMENTAL_GROUPS,
  ANNOTATION_SCC_UID_RANGE,
  checkSidecarProxyIdentity,
  resolveSandboxIdentity,
} from "./identity";
export * from "./labels";
export { validateSandbox, type ValidatedSandbox } from "./validate";
export { managedNamespaceOf, placementOf, workspaceNamespaceOf, type SandboxPlacement } from "./placement";
export { checkGpuCapacity } from "./gpu-capacity";
export { renderSandbox, sandboxApiGroupVersion } from "./render";
export { lifecyclePatch, isStopped, stopRejection } from "./lifecycle";
export { supervisorBinaryInContainer } from "./supervisor";
export { observeSandbox, sandboxIdOf } from "./observe";
export { platformEventFor, type EventIndex } from "./events";
export type * from "./types";
export { SANDBOX_GROUP, SANDBOX_KIND, SANDBOX_PLURAL } from "./types";
export type * from "./settings";
export { clusterReferences, type ClusterReference, type ReferenceKind } from "./references";
