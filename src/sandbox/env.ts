// The agent container's environment, in the order upstream's build_env_list produces it.

import type { V1EnvVar } from "@kubernetes/client-node";
import type { DriverSandbox } from "../gen/compute_driver_pb";
import type { RenderSettings } from "./settings";

export const SSH_SOCKET_PATH = "/run/openshell/ssh.sock";
export const SA_TOKEN_DIR = "/var/run/secrets/openshell";
export const SA_TOKEN_FILE = `${SA_TOKEN_DIR}/token`;
export const DEFAULT_MAIN_COMMAND = ["/bin/bash", "-l"];

/**
 * Builds the env list: template env, spec env, log level, user-env JSON, main-process spec, then
 * the driver-owned variables. Map entries are sorted by name so renders are deterministic.
 */
export function buildEnv(sandbox: DriverSandbox, settings: Pick<RenderSettings, "gatewayEndpoint">): V1EnvVar[] {
  const spec = sandbox.spec;
  const templateEnv = spec?.template?.environment ?? {};
  const specEnv = spec?.environment ?? {};
  const env = new EnvList();

  for (const [name, value] of sortedEntries(templateEnv)) env.set(name, value);
  for (const [name, value] of sortedEntries(specEnv)) env.set(name, value);
  if (spec?.logLevel) env.set("OPENSHELL_LOG_LEVEL", spec.logLevel);

  const userEnv = Object.fromEntries([...sortedEntries({ ...templateEnv, ...specEnv })]);
  if (Object.keys(userEnv).length > 0) env.set("OPENSHELL_USER_ENVIRONMENT", JSON.stringify(userEnv));

  const command = spec?.command ?? [];
  const main =
    command.length > 0
      ? { version: 1, command, tty: spec?.tty ?? false }
      : { version: 1, command: DEFAULT_MAIN_COMMAND, tty: true };
  env.set("OPENSHELL_MAIN_PROCESS_SPEC", JSON.stringify(main));

  env.set("OPENSHELL_SANDBOX_ID", sandbox.id);
  env.set("OPENSHELL_SANDBOX", sandbox.name);
  if (settings.gatewayEndpoint !== "") env.set("OPENSHELL_ENDPOINT", settings.gatewayEndpoint);
  env.set("OPENSHELL_SSH_SOCKET_PATH", SSH_SOCKET_PATH);
  env.set("OPENSHELL_K8S_SA_TOKEN_FILE", SA_TOKEN_FILE);
  return env.toList();
}

function sortedEntries(map: Record<string, string>): [string, string][] {
  return Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

class EnvList {
  private readonly entries = new Map<string, string>();

  // A later write removes the earlier entry and appends, so the last writer wins AND sits last
  // (driver-owned variables always end the list, where a reader of the pod spec expects them).
  set(name: string, value: string): void {
    this.entries.delete(name);
    this.entries.set(name, value);
  }

  toList(): V1EnvVar[] {
    return [...this.entries].map(([name, value]) => ({ name, value }));
  }
}
