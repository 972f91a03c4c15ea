// Pod tolerations from a Struct, with the checks the API server's ValidateTolerations would make,
// so a bad toleration is refused at validation instead of failing pod creation inside the controller.

import type { JsonValue } from "@bufbuild/protobuf";
import type { V1Toleration } from "@kubernetes/client-node";
import { checkLabelValue, checkQualifiedName } from "./dns";
import { invalidArgument } from "./errors";
import { describeJson, expectArray, expectObject, field, optionalString, rejectUnknownKeys } from "./json-fields";

const TOLERATION_KEYS = ["key", "operator", "value", "effect", "tolerationSeconds", "toleration_seconds"] as const;
const OPERATORS = ["Exists", "Equal"];
const EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute", ""];

export function parseTolerations(value: JsonValue, path: string): V1Toleration[] {
  return expectArray(value, path).map((item, i) => parseToleration(item, `${path}[${i}]`));
}

function parseToleration(value: JsonValue, path: string): V1Toleration {
  const obj = expectObject(value, path);
  rejectUnknownKeys(obj, TOLERATION_KEYS, path);
  const key = optionalString(obj, "key", path);
  const operator = optionalString(obj, "operator", path);
  const val = optionalString(obj, "value", path);
  const effect = optionalString(obj, "effect", path);
  const seconds = parseSeconds(obj, path);

  if (key !== undefined && key !== "") {
    const problem = checkQualifiedName(key);
    if (problem) throw invalidArgument(`${path}.key`, problem);
  }
  if (operator !== undefined && !OPERATORS.includes(operator)) {
    throw invalidArgument(`${path}.operator`, `must be one of ${OPERATORS.join(", ")}`);
  }
  const exists = operator === "Exists";
  if (!key && !exists) {
    throw invalidArgument(`${path}.operator`, "must be 'Exists' when key is empty");
  }
  if (exists && val) {
    throw invalidArgument(`${path}.value`, "must be empty when operator is 'Exists'");
  }
  if (!exists && val !== undefined) {
    const problem = checkLabelValue(val);
    if (problem) throw invalidArgument(`${path}.value`, problem);
  }
  if (effect !== undefined && !EFFECTS.includes(effect)) {
    throw invalidArgument(`${path}.effect`, "must be one of NoSchedule, PreferNoSchedule, NoExecute or empty");
  }
  if (seconds !== undefined && effect !== "NoExecute") {
    throw invalidArgument(`${path}.${seconds.key}`, "requires effect 'NoExecute'");
  }

  const out: V1Toleration = {};
  if (key !== undefined) out.key = key;
  if (operator !== undefined) out.operator = operator;
  if (val !== undefined) out.value = val;
  if (effect !== undefined) out.effect = effect;
  if (seconds !== undefined) out.tolerationSeconds = seconds.value;
  return out;
}

function parseSeconds(
  obj: Record<string, JsonValue>,
  path: string,
): { key: string; value: number } | undefined {
  const camel = field(obj, "tolerationSeconds");
  const snake = field(obj, "toleration_seconds");
  if (camel !== undefined && snake !== undefined) {
    throw invalidArgument(`${path}.toleration_seconds`, "set either tolerationSeconds or toleration_seconds, not both");
  }
  const key = camel !== undefined ? "tolerationSeconds" : "toleration_seconds";
  const value = camel ?? snake;
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw invalidArgument(`${path}.${key}`, `must be an integer, got ${describeJson(value)}`);
  }
  return { key, value };
}
