// The agent container's resource requests and limits (upstream `container_resources`).

import type { V1ResourceRequirements } from "@kubernetes/client-node";
import { GPU_RESOURCE } from "./resource-map";
import type { ValidatedSandbox } from "./validate";

/**
 * Order of precedence: typed template resources and the GPU count overwrite platform
 * `resources_raw`; driver_config entries only fill names still unset. A request left empty falls
 * back to its limit, so the pod gets the Guaranteed QoS the limit implies.
 */
export function buildAgentResources(v: ValidatedSandbox): V1ResourceRequirements | undefined {
  const raw = v.platformConfig.resourcesRaw;
  const requests: Record<string, string> = { ...raw.requests };
  const limits: Record<string, string> = { ...raw.limits };
  const typed = v.sandbox.spec?.template?.resources;

  for (const [name, request, limit] of [
    ["cpu", typed?.cpuRequest ?? "", typed?.cpuLimit ?? ""],
    ["memory", typed?.memoryRequest ?? "", typed?.memoryLimit ?? ""],
  ] as const) {
    if (limit !== "") limits[name] = limit;
    if (request !== "" || limit !== "") requests[name] = request || limit;
  }
  if (v.gpuCount > 0) limits[GPU_RESOURCE] = String(v.gpuCount);

  for (const [name, q] of Object.entries(v.driverConfig.agent.requests)) requests[name] ??= q;
  for (const [name, q] of Object.entries(v.driverConfig.agent.limits)) limits[name] ??= q;

  const out: V1ResourceRequirements = {};
  if (Object.keys(requests).length > 0) out.requests = requests;
  if (Object.keys(limits).length > 0) out.limits = limits;
  return out.requests || out.limits ? out : undefined;
}
