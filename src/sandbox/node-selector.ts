// A pod nodeSelector from a Struct: label keys to label values.

import type { JsonValue } from "@bufbuild/protobuf";
import { checkLabelValue, checkQualifiedName } from "./dns";
import { invalidArgument, keyPath } from "./errors";
import { stringMap } from "./json-fields";

export function parseNodeSelector(value: JsonValue, path: string): Record<string, string> {
  const map = stringMap(value, path);
  for (const [key, v] of Object.entries(map)) {
    const at = keyPath(path, key);
    const badKey = checkQualifiedName(key);
    if (badKey) throw invalidArgument(at, `label key ${badKey}`);
    const badValue = checkLabelValue(v);
    if (badValue) throw invalidArgument(at, `label value ${badValue}`);
  }
  return map;
}
