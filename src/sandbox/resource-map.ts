// A map of resource name → quantity, as in a container's requests or limits.

import type { JsonValue } from "@bufbuild/protobuf";
import { checkQualifiedName } from "./dns";
import { invalidArgument, keyPath } from "./errors";
import { stringMap } from "./json-fields";
import { checkResourceQuantity } from "./quantity";

export const GPU_RESOURCE = "nvidia.com/gpu";

/**
 * GPUs are requested only through spec.resource_requirements.gpu, so that --gpu-support=false and
 * the capacity check cannot be bypassed by a raw resource entry.
 */
export function parseResourceMap(value: JsonValue, path: string): Record<string, string> {
  const map = stringMap(value, path);
  for (const [name, quantity] of Object.entries(map)) {
    const at = keyPath(path, name);
    const badName = checkQualifiedName(name);
    if (badName) throw invalidArgument(at, `resource name ${badName}`);
    if (name === GPU_RESOURCE) {
      throw invalidArgument(at, "request GPUs with spec.resource_requirements.gpu instead");
    }
    const badKind = checkContainerResourceName(name);
    if (badKind) throw invalidArgument(at, badKind);
    const badQuantity = checkResourceQuantity(quantity);
    if (badQuantity) throw invalidArgument(at, badQuantity);
    if (isExtendedResource(name) && !/^\+?\d+$/.test(quantity)) {
      throw invalidArgument(at, `extended resource '${name}' must be a whole number, got '${quantity}'`);
    }
  }
  return map;
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
