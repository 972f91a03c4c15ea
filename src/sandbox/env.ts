// The agent container's environment, in the order upstream's build_env_list, apply_required_env
// and apply_resolved_identity_env produce it.

import type { V1EnvVar } from "@kubernetes/client-node";
import type { DriverSandbox } from "../gen/compute_driver_pb";
import { CLIENT_TLS_DIR, SA_TOKEN_FILE } from "./container-paths";
import type { RenderSettings, SandboxIdentity } from "./settings";

const DEFAULT_MAIN_COMMAND = ["/bin/bash", "-l"];
export const LOG_LEVEL_ENV = "OPENSHELL_LOG_LEVEL";

/**
 * Variables the driver sets or clears in some topology. They configure the supervisor, which reads
 * its environment, so a user value for any of them is dropped — from the container env and from
 * OPENSHELL_USER_ENVIRONMENT — whether or not the driver sets it in this pod: a user
 * OPENSHELL_ENDPOINT must not point a sandbox without a configured endpoint somewhere else, and a
 * user OPENSHELL_NETWORK_ENFORCEMENT_MODE must not relax a combined-topology supervisor.
 */
export const DRIVER_OWNED_ENV: ReadonlySet<string> = new Set([
  "OPENSHELL_SANDBOX_ID",
  "OPENSHELL_SANDBOX",
  "OPENSHELL_ENDPOINT",
  "OPENSHELL_TELEMETRY_ENABLED",
  "OPENSHELL_NETWORK_RUNTIME_CAPABILITIES",
  "OPENSHELL_SSH_SOCKET_PATH",
  "OPENSHELL_TLS_CA",
  "OPENSHELL_TLS_CERT",
  "OPENSHELL_TLS_KEY",
  "OPENSHELL_K8S_SA_TOKEN_FILE",
  "OPENSHELL_OCI_IMAGE_USER",
  "OPENSHELL_SANDBOX_UID",
  "OPENSHELL_SANDBOX_GID",
  "OPENSHELL_USER_ENVIRONMENT",
  "OPENSHELL_MAIN_PROCESS_SPEC",
  "OPENSHELL_SUPERVISOR_TOPOLOGY",
  "OPENSHELL_NETWORK_ENFORCEMENT_MODE",
  "OPENSHELL_NETWORK_BINARY_IDENTITY",
  "OPENSHELL_SIDECAR_CONTROL_SOCKET",
  "OPENSHELL_PROXY_TLS_DIR",
  "OPENSHELL_GATEWAY_TLS_SERVER_NAME",
  "OPENSHELL_SANDBOX_TOKEN",
  "OPENSHELL_SANDBOX_TOKEN_FILE",
  "OPENSHELL_PROVIDER_SPIFFE_WORKLOAD_API_SOCKET",
]);

/** An ordered env list with upstream's upsert: a value for a name already present replaces it in place. */
export class EnvList {
  private readonly entries = new Map<string, string>();

  set(name: string, value: string): void {
    this.entries.set(name, value);
  }

  delete(name: string): void {
    this.entries.delete(name);
  }

  toList(): V1EnvVar[] {
    return [...this.entries].map(([name, value]) => ({ name, value }));
  }
}

function byName([a]: [string, string], [b]: [string, string]): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function userEntries(map: Record<string, string>): [string, string][] {
  return Object.entries(map)
    .filter(([name]) => !DRIVER_OWNED_ENV.has(name))
    .sort(byName);
}

/** The sandbox's log level as the network supervisor sees it: spec log level, then spec env, then template env. */
export function logLevelOf(sandbox: DriverSandbox): string | undefined {
  const spec = sandbox.spec;
  return spec?.logLevel || spec?.environment[LOG_LEVEL_ENV] || spec?.template?.environment[LOG_LEVEL_ENV] || undefined;
}

/**
 * Template env, then spec env and the spec log level, then OPENSHELL_USER_ENVIRONMENT (what the
 * supervisor gives workload children), then the main-process spec, then the gateway variables.
 * Map entries are sorted by name so renders are deterministic.
 */
export function buildEnv(sandbox: DriverSandbox, settings: RenderSettings): EnvList {
  const spec = sandbox.spec;
  const specEnv: Record<string, string> = { ...spec?.environment };
  if (spec?.logLevel) specEnv[LOG_LEVEL_ENV] = spec.logLevel;
  const user = [...userEntries(spec?.template?.environment ?? {}), ...userEntries(specEnv)];

  const env = new EnvList();
  for (const [name, value] of user) env.set(name, value);
  if (user.length > 0) {
    const merged = Object.entries(Object.fromEntries(user)).sort(byName); // spec wins over template
    env.set("OPENSHELL_USER_ENVIRONMENT", JSON.stringify(Object.fromEntries(merged)));
  }

  const command = spec?.command ?? [];
  const main =
    command.length > 0
      ? { version: 1, command, tty: spec?.tty ?? false }
      : { version: 1, command: DEFAULT_MAIN_COMMAND, tty: true };
  env.set("OPENSHELL_MAIN_PROCESS_SPEC", JSON.stringify(main));

  setGatewayEnv(env, sandbox, settings, { sshSocketPath: settings.sshSocketPath, clientTlsDir: CLIENT_TLS_DIR });
  return env;
}

/** Where a supervisor finds what setGatewayEnv points it at; empty sshSocketPath = no SSH socket. */
export interface GatewayEnvPaths {
  sshSocketPath: string;
  clientTlsDir: string;
}

/**
 * What a supervisor needs to reach and authenticate to the gateway (upstream `apply_required_env`).
 * Without a configured endpoint OPENSHELL_ENDPOINT stays unset (upstream writes ""), and a user
 * value never stands in for it.
 */
export function setGatewayEnv(env: EnvList, sandbox: DriverSandbox, settings: RenderSettings, paths: GatewayEnvPaths): void {
  env.set("OPENSHELL_SANDBOX_ID", sandbox.id);
  env.set("OPENSHELL_SANDBOX", sandbox.name);
  if (settings.gatewayEndpoint !== "") env.set("OPENSHELL_ENDPOINT", settings.gatewayEndpoint);
  env.set("OPENSHELL_TELEMETRY_ENABLED", settings.sandboxTelemetry ? "true" : "false");
  // Driver-owned and empty: this driver offers the supervisor no optional network substrate.
  env.set("OPENSHELL_NETWORK_RUNTIME_CAPABILITIES", "");
  if (paths.sshSocketPath !== "") env.set("OPENSHELL_SSH_SOCKET_PATH", paths.sshSocketPath);
  if (settings.clientTlsSecretName !== "") {
    env.set("OPENSHELL_TLS_CA", `${paths.clientTlsDir}/ca.crt`);
    env.set("OPENSHELL_TLS_CERT", `${paths.clientTlsDir}/tls.crt`);
    env.set("OPENSHELL_TLS_KEY", `${paths.clientTlsDir}/tls.key`);
  }
  env.set("OPENSHELL_K8S_SA_TOKEN_FILE", SA_TOKEN_FILE);
}

/**
 * The resolved identity, always last: the image's own USER is cleared so neither the image nor the
 * user picks a conflicting identity (upstream `apply_resolved_identity_env`).
 */
export function setIdentityEnv(env: EnvList, identity: SandboxIdentity): void {
  for (const name of ["OPENSHELL_OCI_IMAGE_USER", "OPENSHELL_SANDBOX_UID", "OPENSHELL_SANDBOX_GID"]) env.delete(name);
  env.set("OPENSHELL_OCI_IMAGE_USER", "");
  env.set("OPENSHELL_SANDBOX_UID", String(identity.uid));
  env.set("OPENSHELL_SANDBOX_GID", String(identity.gid));
}
