// The request policy: what a gateway user's request may set, safe by default and widened only by
// the operator's flags (RenderSettings.requestPolicy). validateSandbox runs it as the last step of
// the single gate ValidateSandboxCreate and CreateSandbox share, so both answer every request
// alike. Refusals of well-formed values are PERMISSION_DENIED and name the flag that would admit
// them; values that could never run (NUL, lone surrogates) are INVALID_ARGUMENT.

import { keyPath } from "../errors";
import { PLATFORM_CONFIG_PATH } from "../platform-config";
import { buildAgentResources } from "../resources";
import type { RenderSettings } from "../settings";
import type { ValidatedSandbox } from "../validate";
import { checkDeviceSelectionEnv } from "./device-selection-env";
import { gpuDemandOf, type GpuDemand } from "./gpu-resources";
import { refuseMetadataKey, type MetadataKind } from "./metadata-keys";
import { policyRefusal } from "./refusal";
import { checkScheduling } from "./scheduling";
import { checkTextValues } from "./text-values";

export { allowListAdmits, driverOwnedReader } from "./metadata-keys";
export { isGpuResource, type GpuDemand } from "./gpu-resources";
export { ANY_TOLERATION } from "./scheduling";

type PolicySettings = Pick<
  RenderSettings,
  "requestPolicy" | "runtimeClassName" | "enableUserNamespaces" | "gpuSupport" | "managedSshIngress"
>;

/** Throws the first refusal; returns the sandbox's GPU demand (undefined = none) for the capacity check. */
export function enforceRequestPolicy(v: Omit<ValidatedSandbox, "gpu">, settings: PolicySettings): GpuDemand | undefined {
  checkTextValues(v.sandbox, v.platformConfig);
  checkDeviceSelectionEnv(v.sandbox);
  const policy = settings.requestPolicy;
  checkMetadataKeys(v.platformConfig.annotations, `${PLATFORM_CONFIG_PATH}.annotations`, "annotation", policy.allowedAnnotationPrefixes);
  const labels = v.sandbox.spec?.template?.labels ?? {};
  checkMetadataKeys(labels, "sandbox.spec.template.labels", "label", policy.allowedLabelPrefixes);
  checkGatewaySelectorKeys(labels, settings.managedSshIngress.gatewayPodSelector);
  checkScheduling(v, settings);
  return gpuDemandOf(v, buildAgentResources({ ...v, gpu: undefined })?.limits ?? {}, settings);
}

const ALLOW_FLAG: Record<MetadataKind, string> = {
  annotation: "allowed-annotation-prefixes",
  label: "allowed-label-prefixes",
};

function checkMetadataKeys(map: Record<string, string>, path: string, kind: MetadataKind, allowed: readonly string[]): void {
  for (const key of Object.keys(map)) {
    const refusal = refuseMetadataKey(key, allowed);
    if (!refusal) continue;
    throw policyRefusal({
      field: keyPath(path, key),
      what: `${kind} key '${key}'`,
      why: refusal.reader,
      ...(refusal.allowEntry ? { allowWith: { flag: ALLOW_FLAG[kind], entry: refusal.allowEntry } } : {}),
    });
  }
}

/**
 * The managed-mode NetworkPolicy admits pods by --managed-ssh-gateway-pod-selector as "the gateway":
 * a sandbox wearing one of those keys would be selected by it wherever that selector is applied.
 */
function checkGatewaySelectorKeys(labels: Record<string, string>, gatewaySelector: Record<string, string>): void {
  const key = Object.keys(labels).find((k) => k in gatewaySelector);
  if (key === undefined) return;
  throw policyRefusal({
    field: keyPath("sandbox.spec.template.labels", key),
    what: `label key '${key}'`,
    why: "--managed-ssh-gateway-pod-selector selects the gateway's pods by it",
  });
}
