// Typed reads from a google.protobuf.Struct (a plain JsonObject in protobuf-es). Every failure is an
// InvalidArgument naming the full field path, so a typo deep in driver_config points at itself.
// JSON null counts as absent, like an omitted key.

import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { invalidArgument, keyPath } from "./errors";

export function describeJson(value: JsonValue): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function expectObject(value: JsonValue, path: string): JsonObject {
  if (!isJsonObject(value)) throw invalidArgument(path, `must be an object, got ${describeJson(value)}`);
  return value;
}

export function expectArray(value: JsonValue, path: string): JsonValue[] {
  if (!Array.isArray(value)) throw invalidArgument(path, `must be an array, got ${describeJson(value)}`);
  return value;
}

export function rejectUnknownKeys(obj: JsonObject, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw invalidArgument(`${path}.${key}`, `unknown field; expected one of ${allowed.join(", ")}`);
    }
  }
}

/** The value at `obj[key]`, or undefined when the key is absent or null. */
export function field(obj: JsonObject, key: string): JsonValue | undefined {
  const value = obj[key];
  return value === null ? undefined : value;
}

export function optionalString(obj: JsonObject, key: string, path: string): string | undefined {
  const value = field(obj, key);
  if (value === undefined) return undefined;
  if (typeof value !== "string") {
    throw invalidArgument(`${path}.${key}`, `must be a string, got ${describeJson(value)}`);
  }
  return value;
}

export function optionalBool(obj: JsonObject, key: string, path: string): boolean | undefined {
  const value = field(obj, key);
  if (value === undefined) return undefined;
  if (typeof value !== "boolean") {
    throw invalidArgument(`${path}.${key}`, `must be a boolean, got ${describeJson(value)}`);
  }
  return value;
}

/** A JSON object whose values are all strings. */
export function stringMap(value: JsonValue, path: string): Record<string, string> {
  const obj = expectObject(value, path);
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(obj)) {
    if (typeof v !== "string") {
      throw invalidArgument(keyPath(path, key), `must be a string, got ${describeJson(v)}`);
    }
    out[key] = v;
  }
  return out;
}
