// Objects a sandbox's pod needs to exist already. Syntax is checked during validation; whether
// they exist is asked of the cluster by ValidateSandboxCreate, because a missing one is otherwise
// found only later: admission refuses the pod inside the controller, or the pod stays Pending.

import { DRIVER_CONFIG_PATH } from "./driver-config";
import type { RenderSettings } from "./settings";
import type { ValidatedSandbox } from "./validate";

export type ReferenceKind = "RuntimeClass" | "PriorityClass" | "PersistentVolumeClaim";

export interface ClusterReference {
  kind: ReferenceKind;
  name: string;
  /** The request field (or the driver flag) the name came from, for the error message. */
  field: string;
}

export function clusterReferences(v: ValidatedSandbox, settings: Pick<RenderSettings, "runtimeClassName">): ClusterReference[] {
  const refs: ClusterReference[] = [];
  // Same precedence as rendering: platform_config, then driver_config, then the driver default.
  const runtimeClass: [string | undefined, string][] = [
    [v.platformConfig.runtimeClassName, "sandbox.spec.template.platform_config.runtime_class_name"],
    [v.driverConfig.pod.runtimeClassName, `${DRIVER_CONFIG_PATH}.pod.runtime_class_name`],
    [settings.runtimeClassName, "--runtime-class-name"],
  ];
  const chosen = runtimeClass.find(([name]) => name);
  if (chosen) refs.push({ kind: "RuntimeClass", name: chosen[0]!, field: chosen[1] });
  if (v.driverConfig.pod.priorityClassName) {
    refs.push({ kind: "PriorityClass", name: v.driverConfig.pod.priorityClassName, field: `${DRIVER_CONFIG_PATH}.pod.priority_class_name` });
  }
  v.driverConfig.volumes.forEach((volume, i) => {
    refs.push({
      kind: "PersistentVolumeClaim",
      name: volume.claimName,
      field: `${DRIVER_CONFIG_PATH}.volumes[${i}].persistent_volume_claim.claim_name`,
    });
  });
  return refs;
}
