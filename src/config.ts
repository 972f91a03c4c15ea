// Flags + environment → one typed, validated Config. Every flag `--foo-bar` can also be set
// through OPENSHELL_DRIVER_FOO_BAR; an explicit flag wins over the environment.
import { resolve } from "node:path";
import type { RenderSettings } from "./sandbox/settings";
import { isDns1123Label } from "./sandbox/dns";
import { isImageReference } from "./sandbox/image-ref";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "silent";
export type LogFormat = "json" | "pretty";
export type SandboxApiVersionChoice = "auto" | "v1beta1" | "v1alpha1";

/** Everything `serve` needs; the rendering settings are the same fields RenderSettings has. */
export interface Config extends Omit<RenderSettings, "apiVersion"> {
  socket: string;
  kubeconfig: string | undefined;
  sandboxApiVersion: SandboxApiVersionChoice;
  healthPort: number;
  healthAddress: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
  kubeTimeoutMs: number;
  stopTimeoutMs: number;
}

/** A flag value that cannot be used; `flag` is the flag's name without dashes. */
export class ConfigError extends Error {
  constructor(
    readonly flag: string,
    reason: string,
  ) {
    super(`invalid --${flag}: ${reason}`);
  }
}

interface FlagSpec<K extends keyof Config> {
  key: K;
  description: string;
  /** Default as the user would type it; undefined = unset. */
  fallback: string | undefined;
  parse: (raw: string, flag: string) => Config[K];
}

const text = (raw: string): string => raw;

function oneOf<const T extends string>(...choices: T[]) {
  return (raw: string, flag: string): T => {
    if ((choices as string[]).includes(raw)) return raw as T;
    throw new ConfigError(flag, `"${raw}" is not one of ${choices.map((c) => `"${c}"`).join(", ")}`);
  };
}

function bool(raw: string, flag: string): boolean {
  const value = raw.trim().toLowerCase();
  if (["", "true", "1", "yes", "on"].includes(value)) return true;
  if (["false", "0", "no", "off"].includes(value)) return false;
  throw new ConfigError(flag, `"${raw}" is not a boolean (true|false)`);
}

function port(raw: string, flag: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || n > 65535) throw new ConfigError(flag, `"${raw}" is not a port (0-65535)`);
  return n;
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

function dnsLabel(raw: string, flag: string): string {
  if (!isDns1123Label(raw)) throw new ConfigError(flag, `"${raw}" is not a DNS-1123 label`);
  return raw;
}

function optionalDnsLabel(raw: string, flag: string): string {
  return raw === "" ? raw : dnsLabel(raw, flag);
}

function image(optional: boolean) {
  return (raw: string, flag: string): string => {
    if (raw === "" && optional) return raw;
    if (!isImageReference(raw)) throw new ConfigError(flag, `"${raw}" is not a valid image reference`);
    return raw;
  };
}

function absolutePath(raw: string, flag: string): string {
  if (!raw.startsWith("/") || raw.split("/").some((s) => s === "." || s === "..")) {
    throw new ConfigError(flag, `"${raw}" must be an absolute path without . or .. segments`);
  }
  return raw.length > 1 ? raw.replace(/\/+$/, "") : raw;
}

function socketPath(raw: string, flag: string): string {
  if (raw.trim() === "") throw new ConfigError(flag, "must not be empty");
  const path = resolve(raw);
  // sun_path holds 108 bytes including the terminating NUL on Linux.
  if (Buffer.byteLength(path) > 107) throw new ConfigError(flag, `"${path}" is longer than 107 bytes`);
  return path;
}

function secretNames(raw: string, flag: string): string[] {
  const names = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const name of names) {
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 253) {
      throw new ConfigError(flag, `"${name}" is not a valid Secret name`);
    }
  }
  return names;
}

function endpoint(raw: string, flag: string): string {
  if (raw === "") return raw;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(flag, `"${raw}" is not a URL (e.g. http://openshell.openshell.svc:8080)`);
  }
  if (!["http:", "https:"].includes(url.protocol)) throw new ConfigError(flag, `"${raw}" must use http or https`);
  return raw;
}

export const FLAGS = {
  socket: { key: "socket", description: "Unix socket the gateway connects to", fallback: "/var/run/openshell-driver.sock", parse: socketPath },
  namespace: { key: "namespace", description: "Namespace for Sandbox resources", fallback: "openshell-system", parse: dnsLabel },
  kubeconfig: { key: "kubeconfig", description: "Kubeconfig file (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)", fallback: undefined, parse: text },
  "gateway-id": { key: "gatewayId", description: "Gateway id stamped on every resource (label value)", fallback: "openshell", parse: dnsLabel },
  "default-image": { key: "defaultImage", description: "Sandbox image when a request names none", fallback: "ghcr.io/nvidia/openshell-community/sandboxes/base:latest", parse: image(true) },
  "image-pull-policy": { key: "imagePullPolicy", description: "Agent image pull policy (Always|IfNotPresent|Never; empty = Kubernetes default)", fallback: "", parse: oneOf("", "Always", "IfNotPresent", "Never") },
  "image-pull-secrets": { key: "imagePullSecrets", description: "Comma-separated image pull Secret names", fallback: "", parse: secretNames },
  "service-account-name": { key: "serviceAccountName", description: "Service account of sandbox pods (empty = namespace default)", fallback: "", parse: optionalDnsLabel },
  "runtime-class-name": { key: "runtimeClassName", description: "Default runtimeClassName of sandbox pods", fallback: "", parse: optionalDnsLabel },
  "supervisor-image": { key: "supervisorImage", description: "Image that carries the openshell-sandbox supervisor", fallback: "ghcr.io/nvidia/openshell/supervisor:latest", parse: image(false) },
  "supervisor-binary-path": { key: "supervisorBinaryPath", description: "Path of the supervisor binary inside the supervisor image", fallback: "/usr/local/bin/openshell-sandbox", parse: absolutePath },
  "supervisor-mount-path": { key: "supervisorMountPath", description: "Directory where the supervisor appears in the agent container", fallback: "/opt/openshell/bin", parse: absolutePath },
  "supervisor-sideload": { key: "supervisorSideload", description: "How the supervisor reaches the pod (init-container|image-volume)", fallback: "init-container", parse: oneOf("init-container", "image-volume") },
  "gateway-endpoint": { key: "gatewayEndpoint", description: "Gateway gRPC endpoint given to sandboxes as OPENSHELL_ENDPOINT", fallback: "", parse: endpoint },
  "sandbox-api-version": { key: "sandboxApiVersion", description: "Sandbox API version (auto|v1beta1|v1alpha1)", fallback: "auto", parse: oneOf("auto", "v1beta1", "v1alpha1") },
  "gpu-support": { key: "gpuSupport", description: "Accept GPU sandboxes (true|false)", fallback: "true", parse: bool },
  "health-port": { key: "healthPort", description: "TCP port for /healthz, /readyz and /metrics (0 = off)", fallback: "9090", parse: port },
  "health-address": { key: "healthAddress", description: "Address the health port binds to", fallback: "0.0.0.0", parse: text },
  "log-level": { key: "logLevel", description: "trace|debug|info|warn|error|silent", fallback: "info", parse: oneOf("trace", "debug", "info", "warn", "error", "silent") },
  "log-format": { key: "logFormat", description: "json|pretty (default: json unless stdout is a TTY)", fallback: undefined, parse: oneOf("json", "pretty") },
  "kube-timeout": { key: "kubeTimeoutMs", description: "Deadline of every Kubernetes API call", fallback: "30s", parse: parseDuration },
  "stop-timeout": { key: "stopTimeoutMs", description: "How long StopSandbox waits for compute to stop", fallback: "90s", parse: parseDuration },
} as const satisfies { [flag: string]: FlagSpec<keyof Config> };

export type FlagName = keyof typeof FLAGS;

/** OPENSHELL_DRIVER_<FLAG_IN_CAPS> */
export function envVarFor(flag: string): string {
  return `OPENSHELL_DRIVER_${flag.toUpperCase().replaceAll("-", "_")}`;
}

/**
 * Resolves every flag from (in order) the parsed command line, the environment, the default.
 * `flags` maps flag name → raw string as given on the command line.
 */
export function resolveConfig(
  flags: Readonly<Record<string, string | undefined>>,
  env: Readonly<Record<string, string | undefined>>,
  stdoutIsTty: boolean,
): Config {
  const config: Partial<Record<keyof Config, unknown>> = {};
  for (const [flag, spec] of Object.entries(FLAGS) as [string, FlagSpec<keyof Config>][]) {
    const raw = flags[flag] ?? env[envVarFor(flag)] ?? spec.fallback;
    config[spec.key] = raw === undefined ? undefined : spec.parse(raw, flag);
  }
  config.logFormat ??= stdoutIsTty ? "pretty" : "json";
  if (config.kubeconfig === "") config.kubeconfig = undefined;
  return config as Config;
}
