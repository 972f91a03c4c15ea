// Parsers for one flag value each: raw string → typed value, or a ConfigError naming the flag.
import { isIP } from "node:net";
import { resolve } from "node:path";
import { checkDns1123Subdomain, checkLabelValue, checkQualifiedName, isDns1123Label } from "../sandbox/dns";
import { isImageReference } from "../sandbox/image-ref";
import { ANY_TOLERATION, driverOwnedReader } from "../sandbox/policy";
import { isQuantity } from "../sandbox/quantity";
import type { SecurityProfile } from "../sandbox/settings";

/** A flag value that cannot be used; `flag` is the flag's name without dashes. */
export class ConfigError extends Error {
  constructor(
    readonly flag: string,
    reason: string,
  ) {
    super(`invalid --${flag}: ${reason}`);
  }
}

export type Parser<T> = (raw: string, flag: string) => T;

export const text: Parser<string> = (raw) => raw;

export function oneOf<const T extends string>(...choices: T[]): Parser<T> {
  return (raw, flag) => {
    if ((choices as string[]).includes(raw)) return raw as T;
    throw new ConfigError(flag, `"${raw}" is not one of ${choices.map((c) => `"${c}"`).join(", ")}`);
  };
}

export const bool: Parser<boolean> = (raw, flag) => {
  const value = raw.trim().toLowerCase();
  if (["", "true", "1", "yes", "on"].includes(value)) return true;
  if (["false", "0", "no", "off"].includes(value)) return false;
  throw new ConfigError(flag, `"${raw}" is not a boolean (true|false)`);
};

export const port: Parser<number> = (raw, flag) => {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || n > 65535) throw new ConfigError(flag, `"${raw}" is not a port (0-65535)`);
  return n;
};

/** An integer in [min, max]. */
export function integer(min: number, max: number): Parser<number> {
  return (raw, flag) => {
    const value = raw.trim();
    const n = Number(value);
    if (!/^-?\d+$/.test(value) || n < min || n > max) {
      throw new ConfigError(flag, `"${raw}" is not a whole number in [${min}, ${max}]`);
    }
    return n;
  };
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses Go-style durations ("30s", "1m30s", "500ms"); a bare number means seconds. */
export function parseDuration(raw: string, flag: string): number {
  const value = raw.trim();
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== value) {
    throw new ConfigError(flag, `"${raw}" is not a duration (e.g. 30s, 1m, 500ms)`);
  }
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * DURATION_UNITS[p[2]!]!, 0);
  if (ms <= 0) throw new ConfigError(flag, `"${raw}" must be greater than zero`);
  return ms;
}

export const dnsLabel: Parser<string> = (raw, flag) => {
  if (!isDns1123Label(raw)) throw new ConfigError(flag, `"${raw}" is not a DNS-1123 label`);
  return raw;
};

export const optionalDnsLabel: Parser<string> = (raw, flag) => (raw === "" ? raw : dnsLabel(raw, flag));

export const optionalDnsSubdomain: Parser<string> = (raw, flag) => {
  const problem = raw === "" ? undefined : checkDns1123Subdomain(raw);
  if (problem) throw new ConfigError(flag, `"${raw}" ${problem}`);
  return raw;
};

export const dnsSubdomain: Parser<string> = (raw, flag) => {
  if (raw === "") throw new ConfigError(flag, "must not be empty");
  return optionalDnsSubdomain(raw, flag);
};

/** `namespace/name`, both DNS-1123 labels (an Istio Gateway reference, as Kyma spells it). */
export const namespacedName: Parser<string> = (raw, flag) => {
  const parts = raw.split("/");
  if (parts.length !== 2 || !parts.every((p) => isDns1123Label(p))) {
    throw new ConfigError(flag, `"${raw}" is not namespace/name (two DNS-1123 labels)`);
  }
  return raw;
};

export function image(optional: boolean): Parser<string> {
  return (raw, flag) => {
    if (raw === "" && optional) return raw;
    if (!isImageReference(raw)) throw new ConfigError(flag, `"${raw}" is not a valid image reference`);
    return raw;
  };
}

export const absolutePath: Parser<string> = (raw, flag) => {
  if (!raw.startsWith("/") || raw.split("/").some((s) => s === "." || s === "..")) {
    throw new ConfigError(flag, `"${raw}" must be an absolute path without . or .. segments`);
  }
  return raw.length > 1 ? raw.replace(/\/+$/, "") : raw;
};

export const optionalAbsolutePath: Parser<string> = (raw, flag) => (raw === "" ? raw : absolutePath(raw, flag));

export const socketPath: Parser<string> = (raw, flag) => {
  if (raw.trim() === "") throw new ConfigError(flag, "must not be empty");
  const path = resolve(raw);
  // sun_path holds 108 bytes including the terminating NUL on Linux.
  if (Buffer.byteLength(path) > 107) throw new ConfigError(flag, `"${path}" is longer than 107 bytes`);
  return path;
};

export const secretNames: Parser<string[]> = (raw, flag) => {
  const names = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const name of names) optionalDnsSubdomain(name, flag);
  return names;
};

export const endpoint: Parser<string> = (raw, flag) => {
  if (raw === "") return raw;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(flag, `"${raw}" is not a URL (e.g. http://openshell.openshell.svc:8080)`);
  }
  if (!["http:", "https:"].includes(url.protocol)) throw new ConfigError(flag, `"${raw}" must use http or https`);
  return raw;
};

export const quantity: Parser<string> = (raw, flag) => {
  if (!isQuantity(raw.trim())) throw new ConfigError(flag, `"${raw}" is not a Kubernetes quantity (e.g. 2Gi)`);
  return raw.trim();
};

export const optionalIp: Parser<string> = (raw, flag) => {
  if (raw !== "" && isIP(raw) === 0) throw new ConfigError(flag, `"${raw}" is not an IP address`);
  return raw;
};

/** `RuntimeDefault`, `Unconfined` or `Localhost/<profile>`, as upstream's flag; empty = none. */
/** An AppArmor or seccomp profile, as Kubernetes spells both: RuntimeDefault | Unconfined | Localhost/<name>. */
export const securityProfile: Parser<SecurityProfile | undefined> = (raw, flag) => {
  if (raw === "") return undefined;
  if (raw === "RuntimeDefault" || raw === "Unconfined") return { type: raw };
  if (raw.startsWith("Localhost/")) {
    const localhostProfile = raw.slice("Localhost/".length);
    if (localhostProfile.trim() === "") throw new ConfigError(flag, `"${raw}" needs a profile name after Localhost/`);
    return { type: "Localhost", localhostProfile };
  }
  throw new ConfigError(flag, `"${raw}" is not one of "RuntimeDefault", "Unconfined", "Localhost/<profile-name>"`);
};

/** `key=value,key=value` → a label selector map. */
export const labelMap: Parser<Record<string, string>> = (raw, flag) => {
  const map: Record<string, string> = {};
  for (const entry of raw.split(",").map((e) => e.trim()).filter((e) => e !== "")) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new ConfigError(flag, `"${entry}" must use key=value`);
    const key = entry.slice(0, eq);
    const value = entry.slice(eq + 1);
    const problem = checkQualifiedName(key) ?? checkLabelValue(value);
    if (problem) throw new ConfigError(flag, `"${entry}": ${problem}`);
    map[key] = value;
  }
  return map;
};

function commaList(raw: string): string[] {
  return [...new Set(raw.split(",").map((e) => e.trim()).filter((e) => e !== ""))];
}

/**
 * Annotation or label keys a request may set: exact keys, or prefixes ending in `/` that open
 * every key under them. Keys the driver owns are refused here, so no setting pretends to open them.
 */
export const metadataKeyAllowList: Parser<string[]> = (raw, flag) => {
  const entries = commaList(raw);
  for (const entry of entries) {
    const asKey = entry.endsWith("/") ? `${entry}x` : entry;
    const problem = checkQualifiedName(asKey);
    if (problem || (entry.endsWith("/") && entry.indexOf("/") !== entry.length - 1)) {
      throw new ConfigError(flag, `"${entry}" is neither a key nor a key prefix ending in '/': ${problem ?? "one '/' at most"}`);
    }
    const owned = driverOwnedReader(asKey);
    if (owned) throw new ConfigError(flag, `"${entry}" cannot be opened to requests: ${owned}`);
  }
  return entries;
};

/** Comma-separated object names (runtime classes, priority classes). */
export const dnsSubdomainList: Parser<string[]> = (raw, flag) => {
  const names = commaList(raw);
  for (const name of names) dnsSubdomain(name, flag);
  return names;
};

/** Comma-separated label keys; with `allowAny`, `*` too. */
export function labelKeyList(allowAny: boolean): Parser<string[]> {
  return (raw, flag) => {
    const keys = commaList(raw);
    for (const key of keys) {
      if (allowAny && key === ANY_TOLERATION) continue;
      const problem = checkQualifiedName(key);
      if (problem) throw new ConfigError(flag, `"${key}" is not a label key: ${problem}`);
    }
    return keys;
  };
}
