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
    const badQuantity = checkResourceQuantity(quantity);
    if (badQuantity) throw invalidArgument(at, badQuantity);
  }
  return map;
}
