// Every accelerator a sandbox can ask for, not only `nvidia.com/gpu`: NVIDIA's device plugin also
// advertises MIG slices (`nvidia.com/mig-1g.5gb`) and time-shared GPUs (`nvidia.com/gpu.shared`),
// AMD's `amd.com/gpu`, Intel's `gpu.intel.com/i915` and friends. Each is a GPU to the operator who
// turned --gpu-support off, and each needs a node that has it free, so each passes the same gate
// and the same capacity check.

import { DRIVER_CONFIG_PATH } from "../driver-config";
import { failedPrecondition, invalidArgument, keyPath } from "../errors";
import { PLATFORM_CONFIG_PATH } from "../platform-config";
import { GPU_RESOURCE } from "../resource-map";
import type { RenderSettings } from "../settings";
import type { ValidatedSandbox } from "../validate";

/** Resource domains whose device plugins advertise accelerators. */
const GPU_RESOURCE_PREFIXES = ["nvidia.com/", "amd.com/", "gpu.intel.com/"];

export function isGpuResource(name: string): boolean {
  return GPU_RESOURCE_PREFIXES.some((prefix) => name.startsWith(prefix));
}

/** The accelerator a sandbox asks for: which resource, how many, and the request field it came from. */
export interface GpuDemand {
  resource: string;
  count: number;
  field: string;
}

type GpuRequest = Pick<ValidatedSandbox, "sandbox" | "gpuCount" | "platformConfig" | "driverConfig">;

/** The request field a GPU resource came from, with the precedence buildAgentResources applies. */
function sourceOf(v: GpuRequest, resource: string): string {
  if (resource === GPU_RESOURCE && v.gpuCount > 0 && v.sandbox.spec?.resourceRequirements?.gpu) {
    return "sandbox.spec.resource_requirements.gpu";
  }
  for (const section of ["limits", "requests"] as const) {
    if (v.platformConfig.resourcesRaw[section][resource] !== undefined) {
      return keyPath(`${PLATFORM_CONFIG_PATH}.resources_raw.${section}`, resource);
    }
  }
  const section = v.driverConfig.agent.limits[resource] !== undefined ? "limits" : "requests";
  return keyPath(`${DRIVER_CONFIG_PATH}.containers.agent.resources.${section}`, resource);
}

/**
 * The GPU demand of the agent container's merged limits (extended resources always carry a limit
 * equal to their request, validateMergedResources holds that), or undefined for none. Throws when
 * GPUs are off on this driver, or when one sandbox asks for two kinds the capacity check could
 * not weigh together.
 */
export function gpuDemandOf(
  v: GpuRequest,
  limits: Record<string, string>,
  settings: Pick<RenderSettings, "gpuSupport">,
): GpuDemand | undefined {
  const kinds = Object.entries(limits).filter(([name, quantity]) => isGpuResource(name) && Number(quantity) > 0);
  const [first, second] = kinds;
  if (!first) return undefined;
  const field = sourceOf(v, first[0]);
  if (!settings.gpuSupport) {
    throw failedPrecondition(field, `GPU resource '${first[0]}': GPU support is disabled on this driver (--gpu-support=false)`);
  }
  if (second) {
    throw invalidArgument(
      sourceOf(v, second[0]),
      `a sandbox asks for one kind of GPU resource, and this one asks for both '${first[0]}' and '${second[0]}'`,
    );
  }
  return { resource: first[0], count: Number(first[1]), field };
}
