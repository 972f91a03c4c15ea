// Everything the driver checks before it writes a Sandbox CR. validateSandbox is the single gate
// for both ValidateSandboxCreate and CreateSandbox, and returns what rendering needs, so nothing
// renders from unchecked input. Syntax first, then the request policy (src/sandbox/policy): what a
// tenant may set at all.

import type { DriverSandbox, DriverSandboxSpec } from "../gen/compute_driver_pb";
import { checkDns1123Label, checkLabelValue, checkQualifiedName } from "./dns";
import { parseDriverConfig, type KubernetesDriverConfig } from "./driver-config";
import { checkEnvName } from "./env-name";
import { failedPrecondition, invalidArgument, keyPath } from "./errors";
import { checkImageReference } from "./image-ref";
import { checkLogLevel } from "./log-level";
import { checkJoinableNames, checkServiceNameable } from "./name-joins";
import { checkContainerPath } from "./mount-path";
import { PLATFORM_CONFIG_PATH, parsePlatformConfig, type PlatformConfig } from "./platform-config";
import { placementOf, type SandboxPlacement } from "./placement";
import { enforceRequestPolicy, type GpuDemand } from "./policy";
import { checkResourceQuantity, quantityToNumber } from "./quantity";
import { checkSandboxId } from "./sandbox-id";
import { GPU_RESOURCE, isExtendedResource, isHugePages } from "./resource-map";
import { buildAgentResources } from "./resources";
import { usesUserNamespaces } from "./security-context";
import type { RenderSettings } from "./settings";

export { checkGpuCapacity } from "./gpu-capacity";

export interface ValidatedSandbox {
  sandbox: DriverSandbox;
  /** Namespace of the Sandbox CR, its pod and its workspace claim (by workspace mode). */
  namespace: string;
  /** Name of the Sandbox CR (and so of its pod): `{workspace}--{name}` in shared mode, else `{name}`. */
  kubeName: string;
  image: string;
  /** Number of `nvidia.com/gpu` the typed count or the raw limit asks for; 0 = none. */
  gpuCount: number;
  /** The accelerator (any GPU kind) the pod asks for, for the capacity check; undefined = none. */
  gpu: GpuDemand | undefined;
  driverConfig: KubernetesDriverConfig;
  platformConfig: PlatformConfig;
  /** Accepted, but worth a log line (the driver logs them; pure code does not). */
  warnings: string[];
}

const KUBE_NAME_MAX = 63;

/** Throws SandboxRequestError on the first problem found. */
export function validateSandbox(sandbox: DriverSandbox, settings: RenderSettings): ValidatedSandbox {
  const { namespace, kubeName } = validateIdentity(sandbox, settings);
  const spec = sandbox.spec;
  if (!spec) throw invalidArgument("sandbox.spec", "required");
  const image = validateImage(spec, settings);
  validateEnvironment(spec);
  validateTemplateLabels(spec);
  validateResources(spec);
  validateLogLevel(spec);
  validateCommand(spec);
  validateAgentSocketPath(spec);
  const driverConfig = parseDriverConfig(spec.template?.driverConfig, settings);
  const platformConfig = parsePlatformConfig(spec.template?.platformConfig);
  const gpuCount = validateGpu(spec, platformConfig, settings);
  const warnings: string[] = [];
  const checked = { sandbox, namespace, kubeName, image, gpuCount, driverConfig, platformConfig, warnings };
  validateMergedResources({ ...checked, gpu: undefined });
  const gpu = enforceRequestPolicy(checked, settings);
  // Upstream only warns: the NVIDIA device plugin is unverified inside user namespaces.
  if (gpu && usesUserNamespaces(platformConfig, settings)) {
    warnings.push("GPU sandbox with user namespaces: NVIDIA device plugin compatibility is unverified");
  }
  return { ...checked, gpu };
}

function validateIdentity(sandbox: DriverSandbox, settings: RenderSettings): SandboxPlacement {
  checkSandboxId(sandbox.id, "sandbox.id");

  if (sandbox.name === "") throw invalidArgument("sandbox.name", "required");
  const badName = checkDns1123Label(sandbox.name);
  if (badName) throw invalidArgument("sandbox.name", badName);

  if (sandbox.workspace === "") throw invalidArgument("sandbox.workspace", "required");
  const badWorkspace = checkDns1123Label(sandbox.workspace);
  if (badWorkspace) throw invalidArgument("sandbox.workspace", badWorkspace);

  checkJoinableNames(sandbox);
  const placement = placementOf(sandbox, settings);
  const { kubeName, namespace } = placement;
  if (kubeName.length > KUBE_NAME_MAX) {
    throw invalidArgument(
      "sandbox.name",
      `combined Kubernetes resource name '${kubeName}' is ${kubeName.length} characters, exceeding the DNS-1123 limit of ${KUBE_NAME_MAX}`,
    );
  }
  const badNamespace = checkDns1123Label(namespace);
  if (badNamespace) {
    throw invalidArgument(
      "sandbox.workspace",
      `${settings.workspaceMode} namespace '${namespace}' (from workspace '${sandbox.workspace}') is not a valid DNS-1123 label: ${badNamespace}`,
    );
  }
  checkServiceNameable(sandbox, kubeName, settings);
  return placement;
}

function validateImage(spec: DriverSandboxSpec, settings: RenderSettings): string {
  const field = "sandbox.spec.template.image";
  const requested = spec.template?.image ?? "";
  if (requested !== "") {
    const problem = checkImageReference(requested);
    if (problem) throw invalidArgument(field, problem);
    return requested;
  }
  if (settings.defaultImage === "") throw invalidArgument(field, "required (no default image configured)");
  const problem = checkImageReference(settings.defaultImage);
  if (problem) throw failedPrecondition(field, `the driver's default image is invalid: ${problem}`);
  return settings.defaultImage;
}

function validateEnvironment(spec: DriverSandboxSpec): void {
  const sources: [string, Record<string, string>][] = [
    ["sandbox.spec.template.environment", spec.template?.environment ?? {}],
    ["sandbox.spec.environment", spec.environment],
  ];
  for (const [path, env] of sources) {
    for (const name of Object.keys(env)) {
      const problem = checkEnvName(name);
      if (problem) throw invalidArgument(keyPath(path, name), problem);
    }
  }
}

function validateTemplateLabels(spec: DriverSandboxSpec): void {
  const path = "sandbox.spec.template.labels";
  for (const [key, value] of Object.entries(spec.template?.labels ?? {})) {
    const at = keyPath(path, key);
    const badKey = checkQualifiedName(key);
    if (badKey) throw invalidArgument(at, `label key ${badKey}`);
    const badValue = checkLabelValue(value);
    if (badValue) throw invalidArgument(at, `label value ${badValue}`);
  }
}

function validateResources(spec: DriverSandboxSpec): void {
  const resources = spec.template?.resources;
  if (!resources) return;
  const path = "sandbox.spec.template.resources";
  const pairs = [
    ["cpu_request", resources.cpuRequest, "cpu_limit", resources.cpuLimit],
    ["memory_request", resources.memoryRequest, "memory_limit", resources.memoryLimit],
  ] as const;
  for (const [requestKey, request, limitKey, limit] of pairs) {
    for (const [key, value] of [
      [requestKey, request],
      [limitKey, limit],
    ] as const) {
      if (value === "") continue;
      const problem = checkResourceQuantity(value);
      if (problem) throw invalidArgument(`${path}.${key}`, problem);
    }
    if (request !== "" && limit !== "" && (quantityToNumber(request) ?? 0) > (quantityToNumber(limit) ?? 0)) {
      throw invalidArgument(`${path}.${requestKey}`, `'${request}' exceeds ${limitKey} '${limit}'`);
    }
  }
}

function validateGpu(spec: DriverSandboxSpec, platformConfig: PlatformConfig, settings: RenderSettings): number {
  const gpu = spec.resourceRequirements?.gpu;
  if (!gpu) return rawGpuLimit(platformConfig, settings);
  const count = gpu.count ?? 1;
  if (!Number.isInteger(count) || count <= 0) {
    throw invalidArgument("sandbox.spec.resource_requirements.gpu.count", "gpu count must be greater than 0");
  }
  if (!settings.gpuSupport) {
    throw failedPrecondition(
      "sandbox.spec.resource_requirements.gpu",
      "GPU support is disabled on this driver (--gpu-support=false)",
    );
  }
  return count;
}

/**
 * A GPU limit in the public resources Struct reaches the driver in resources_raw, where the gateway
 * forwards it on purpose. It asks for GPUs as much as resource_requirements.gpu does, so the same
 * gates apply; with both, the typed count wins, as it overwrites the raw limit when rendered.
 */
function rawGpuLimit(platformConfig: PlatformConfig, settings: RenderSettings): number {
  const quantity = platformConfig.resourcesRaw.limits[GPU_RESOURCE];
  if (quantity === undefined) return 0;
  const field = keyPath(`${PLATFORM_CONFIG_PATH}.resources_raw.limits`, GPU_RESOURCE);
  // parseRawResourceMap already holds extended resources to whole numbers.
  const count = Number(quantity);
  if (!Number.isSafeInteger(count)) throw invalidArgument(field, `'${quantity}' GPUs is not a countable number`);
  if (count === 0) return 0;
  if (!settings.gpuSupport) {
    throw failedPrecondition(field, "GPU support is disabled on this driver (--gpu-support=false)");
  }
  return count;
}

function validateLogLevel(spec: DriverSandboxSpec): void {
  if (spec.logLevel === "") return;
  const problem = checkLogLevel(spec.logLevel);
  if (problem) throw invalidArgument("sandbox.spec.log_level", problem);
}

/** A path in the sandbox the controller connects to; upstream passes it on unchecked. */
function validateAgentSocketPath(spec: DriverSandboxSpec): void {
  const path = spec.template?.agentSocketPath ?? "";
  if (path === "") return;
  const problem = checkContainerPath(path);
  if (problem) throw invalidArgument("sandbox.spec.template.agent_socket_path", problem);
}

function validateCommand(spec: DriverSandboxSpec): void {
  spec.command.forEach((arg, i) => {
    if (arg === "") throw invalidArgument(`sandbox.spec.command[${i}]`, "must not be empty");
  });
}

/**
 * Requests and limits come from three inputs (typed, platform resources_raw, driver_config); the
 * API server rejects a pod whose request exceeds its limit, and it would do so only inside the
 * controller, long after CreateSandbox returned. Name the input the offending request came from.
 */
function validateMergedResources(v: ValidatedSandbox): void {
  const { requests = {}, limits = {} } = buildAgentResources(v) ?? {};
  for (const [name, request] of Object.entries(requests)) {
    const limit = limits[name];
    const path = () => requestSource(v, name, request);
    // Extended resources and huge pages cannot be overcommitted: the limit is required and equal.
    if (isExtendedResource(name) || isHugePages(name)) {
      if (limit === undefined) throw invalidArgument(path(), `resource '${name}' needs a limit equal to its request`);
      if (quantityToNumber(request) !== quantityToNumber(limit)) {
        throw invalidArgument(path(), `request '${request}' must equal the limit '${limit}' for resource '${name}'`);
      }
      continue;
    }
    if (limit === undefined) continue;
    if ((quantityToNumber(request) ?? 0) <= (quantityToNumber(limit) ?? 0)) continue;
    throw invalidArgument(path(), `request '${request}' exceeds the limit '${limit}' for resource '${name}'`);
  }
  const hugePages = [...Object.keys(requests), ...Object.keys(limits)].find(isHugePages);
  if (hugePages && !["cpu", "memory"].some((r) => r in requests || r in limits)) {
    throw invalidArgument("sandbox.spec.template.resources", `huge pages ('${hugePages}') need a cpu or memory request or limit`);
  }
}

function requestSource(v: ValidatedSandbox, name: string, request: string): string {
  const typed = v.sandbox.spec?.template?.resources;
  if (name === "cpu" && (typed?.cpuRequest || typed?.cpuLimit)) return "sandbox.spec.template.resources.cpu_request";
  if (name === "memory" && (typed?.memoryRequest || typed?.memoryLimit)) {
    return "sandbox.spec.template.resources.memory_request";
  }
  if (v.platformConfig.resourcesRaw.requests[name] === request) {
    return keyPath("sandbox.spec.template.platform_config.resources_raw.requests", name);
  }
  return keyPath("sandbox.spec.template.driver_config.containers.agent.resources.requests", name);
}
