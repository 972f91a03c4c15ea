// A map of resource name → quantity, as in a container's requests or limits.

import type { JsonValue } from "@bufbuild/protobuf";
import { checkQualifiedName } from "./dns";
import { invalidArgument, keyPath } from "./errors";
import { describeJson, expectObject, stringMap } from "./json-fields";
import { checkResourceQuantity } from "./quantity";

export const GPU_RESOURCE = "nvidia.com/gpu";

/**
 * driver_config's string maps. GPUs are refused here: they are requested through
 * spec.resource_requirements.gpu (or the gateway's raw limits), so that --gpu-support=false and the
 * capacity check cannot be bypassed.
 */
export function parseResourceMap(value: JsonValue, path: string): Record<string, string> {
  const map = stringMap(value, path);
  for (const [name, quantity] of Object.entries(map)) {
    const at = keyPath(path, name);
    if (name === GPU_RESOURCE) {
      throw invalidArgument(at, "request GPUs with spec.resource_requirements.gpu instead");
    }
    checkResourceEntry(name, quantity, at);
  }
  return map;
}

/**
 * platform_config.resources_raw: what the gateway kept of the public `resources` Struct after
 * taking out string cpu/memory. Its values may be JSON numbers (`{"cpu": 2}`), which the API server
 * reads as quantities, so they become quantity strings here. A GPU limit is kept: validation turns
 * it into the sandbox's GPU count, behind the same gates as spec.resource_requirements.gpu.
 */
export function parseRawResourceMap(value: JsonValue, path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(expectObject(value, path))) {
    const at = keyPath(path, name);
    const quantity = rawQuantity(raw, at);
    checkResourceEntry(name, quantity, at);
    out[name] = quantity;
  }
  return out;
}

function rawQuantity(value: JsonValue, at: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  throw invalidArgument(at, `must be a quantity string or number, got ${describeJson(value)}`);
}

function checkResourceEntry(name: string, quantity: string, at: string): void {
  const badName = checkQualifiedName(name);
  if (badName) throw invalidArgument(at, `resource name ${badName}`);
  const badKind = checkContainerResourceName(name);
  if (badKind) throw invalidArgument(at, badKind);
  const badQuantity = checkResourceQuantity(quantity);
  if (badQuantity) throw invalidArgument(at, badQuantity);
  if (isExtendedResource(name) && !/^\+?\d+$/.test(quantity)) {
    throw invalidArgument(at, `extended resource '${name}' must be a whole number, got '${quantity}'`);
  }
}

const STANDARD_CONTAINER_RESOURCES = new Set(["cpu", "memory", "ephemeral-storage"]);

export function isHugePages(name: string): boolean {
  return name.startsWith("hugepages-");
}

/** A vendor resource (example.com/foo): whole units, never overcommitted. */
export function isExtendedResource(name: string): boolean {
  return name.includes("/") && !isKubernetesNamespaced(name);
}

function isKubernetesNamespaced(name: string): boolean {
  const prefix = name.slice(0, name.indexOf("/"));
  return prefix === "kubernetes.io" || prefix.endsWith(".kubernetes.io");
}

/** The API server's container resource-name rule, checked here so the pod is not refused later. */
function checkContainerResourceName(name: string): string | undefined {
  if (!name.includes("/")) {
    if (STANDARD_CONTAINER_RESOURCES.has(name) || isHugePages(name)) return undefined;
    return `'${name}' is not a container resource (cpu, memory, ephemeral-storage, hugepages-<size>, or a vendor's domain/name)`;
  }
  if (isKubernetesNamespaced(name)) return `'${name}': the kubernetes.io resource namespace is reserved`;
  return undefined;
}
