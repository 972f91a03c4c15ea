import { describe, expect, test } from "bun:test";
import type { V1EnvVar } from "@kubernetes/client-node";
import type { DriverSandbox } from "../../src/gen/compute_driver_pb";
import { DRIVER_OWNED_ENV, renderSandbox, validateSandbox } from "../../src/sandbox";
import type { RenderSettings } from "../../src/sandbox/settings";
import { makeSandbox, makeSettings } from "./fixtures";

function agentEnv(sandbox: DriverSandbox, overrides: Partial<RenderSettings> = {}): V1EnvVar[] {
  const settings = makeSettings({ gatewayEndpoint: "https://gw:8080", ...overrides });
  const env = renderSandbox(validateSandbox(sandbox, settings), settings).spec.podTemplate.spec.containers[0]?.env;
  if (!env) throw new Error("agent has no env");
  return env;
}

function names(env: V1EnvVar[]): string[] {
  return env.map((e) => e.name);
}

function valueOf(env: V1EnvVar[], name: string): string | undefined {
  return env.find((e) => e.name === name)?.value;
}

const GATEWAY_VARIABLES = [
  "OPENSHELL_SANDBOX_ID",
  "OPENSHELL_SANDBOX",
  "OPENSHELL_ENDPOINT",
  "OPENSHELL_TELEMETRY_ENABLED",
  "OPENSHELL_NETWORK_RUNTIME_CAPABILITIES",
  "OPENSHELL_SSH_SOCKET_PATH",
  "OPENSHELL_K8S_SA_TOKEN_FILE",
];
const IDENTITY_VARIABLES = ["OPENSHELL_OCI_IMAGE_USER", "OPENSHELL_SANDBOX_UID", "OPENSHELL_SANDBOX_GID"];

describe("sandbox environment", () => {
  test("user env, log level, user env JSON, main process, gateway variables, then identity, as upstream's build_env_list", () => {
    const sandbox = makeSandbox({
      spec: { logLevel: "info", environment: { B: "spec" }, template: { environment: { A: "template" } } },
    });
    expect(names(agentEnv(sandbox))).toEqual([
      "A",
      "B",
      "OPENSHELL_LOG_LEVEL",
      "OPENSHELL_USER_ENVIRONMENT",
      "OPENSHELL_MAIN_PROCESS_SPEC",
      ...GATEWAY_VARIABLES,
      ...IDENTITY_VARIABLES,
    ]);
  });

  test("the driver-owned values are the ones the supervisor needs", () => {
    const env = agentEnv(makeSandbox());
    expect(env.filter((e) => [...GATEWAY_VARIABLES, ...IDENTITY_VARIABLES].includes(e.name))).toEqual([
      { name: "OPENSHELL_SANDBOX_ID", value: "sb-0123456789abcdef" },
      { name: "OPENSHELL_SANDBOX", value: "demo" },
      { name: "OPENSHELL_ENDPOINT", value: "https://gw:8080" },
      { name: "OPENSHELL_TELEMETRY_ENABLED", value: "true" },
      { name: "OPENSHELL_NETWORK_RUNTIME_CAPABILITIES", value: "" },
      { name: "OPENSHELL_SSH_SOCKET_PATH", value: "/run/openshell/ssh.sock" },
      { name: "OPENSHELL_K8S_SA_TOKEN_FILE", value: "/var/run/secrets/openshell/token" },
      { name: "OPENSHELL_OCI_IMAGE_USER", value: "" },
      { name: "OPENSHELL_SANDBOX_UID", value: "1000" },
      { name: "OPENSHELL_SANDBOX_GID", value: "1000" },
    ]);
  });

  test("a spec variable overrides the template variable of the same name and appears once", () => {
    const sandbox = makeSandbox({
      spec: { environment: { SHARED: "spec" }, template: { environment: { SHARED: "template", OTHER: "t" } } },
    });
    const env = agentEnv(sandbox);
    expect(env.filter((e) => e.name === "SHARED")).toEqual([{ name: "SHARED", value: "spec" }]);
    expect(JSON.parse(valueOf(env, "OPENSHELL_USER_ENVIRONMENT") ?? "")).toEqual({ OTHER: "t", SHARED: "spec" });
  });

  test("a user value for any driver-owned variable reaches neither the container env nor the workload's env", () => {
    const spoofed = Object.fromEntries([...DRIVER_OWNED_ENV].map((name) => [name, "spoofed"]));
    const sandbox = makeSandbox({ spec: { environment: spoofed, template: { environment: spoofed } } });
    for (const overrides of [{}, { supervisorTopology: "sidecar" as const }, { clientTlsSecretName: "tls" }]) {
      const env = agentEnv(sandbox, overrides);
      expect(JSON.stringify(env)).not.toContain("spoofed");
      expect(names(env)).not.toContain("OPENSHELL_USER_ENVIRONMENT");
    }
  });

  test("without a gateway endpoint a user OPENSHELL_ENDPOINT is dropped, not passed through", () => {
    const sandbox = makeSandbox({ spec: { environment: { OPENSHELL_ENDPOINT: "http://evil:8080", KEEP: "1" } } });
    const env = agentEnv(sandbox, { gatewayEndpoint: "" });
    expect(names(env)).not.toContain("OPENSHELL_ENDPOINT");
    expect(valueOf(env, "OPENSHELL_USER_ENVIRONMENT")).toBe('{"KEEP":"1"}');
  });

  test("the spec log level wins over a template OPENSHELL_LOG_LEVEL and reaches the workload's env too, as upstream", () => {
    const sandbox = makeSandbox({ spec: { logLevel: "warn", template: { environment: { OPENSHELL_LOG_LEVEL: "trace" } } } });
    const env = agentEnv(sandbox);
    expect(env.filter((e) => e.name === "OPENSHELL_LOG_LEVEL")).toEqual([{ name: "OPENSHELL_LOG_LEVEL", value: "warn" }]);
    expect(valueOf(env, "OPENSHELL_USER_ENVIRONMENT")).toBe('{"OPENSHELL_LOG_LEVEL":"warn"}');
  });

  test("without user variables or a log level there is no OPENSHELL_USER_ENVIRONMENT", () => {
    const env = agentEnv(makeSandbox());
    expect(names(env)).not.toContain("OPENSHELL_USER_ENVIRONMENT");
    expect(names(env)).not.toContain("OPENSHELL_LOG_LEVEL");
  });

  test("an empty command runs an interactive login shell", () => {
    expect(valueOf(agentEnv(makeSandbox()), "OPENSHELL_MAIN_PROCESS_SPEC")).toBe(
      '{"version":1,"command":["/bin/bash","-l"],"tty":true}',
    );
  });

  test("an explicit command is passed verbatim with the requested tty", () => {
    const env = agentEnv(makeSandbox({ spec: { command: ["echo", "smoke ok"], tty: false } }));
    expect(valueOf(env, "OPENSHELL_MAIN_PROCESS_SPEC")).toBe('{"version":1,"command":["echo","smoke ok"],"tty":false}');
  });

  test("sandbox telemetry off is passed to the supervisor as an explicit false", () => {
    expect(valueOf(agentEnv(makeSandbox(), { sandboxTelemetry: false }), "OPENSHELL_TELEMETRY_ENABLED")).toBe("false");
  });

  test("an empty SSH socket path leaves OPENSHELL_SSH_SOCKET_PATH unset", () => {
    expect(names(agentEnv(makeSandbox(), { sshSocketPath: "" }))).not.toContain("OPENSHELL_SSH_SOCKET_PATH");
    expect(valueOf(agentEnv(makeSandbox(), { sshSocketPath: "/run/openshell/other.sock" }), "OPENSHELL_SSH_SOCKET_PATH")).toBe(
      "/run/openshell/other.sock",
    );
  });

  test("client TLS points the supervisor at the mounted certificate, between the SSH socket and the token file", () => {
    const env = agentEnv(makeSandbox(), { clientTlsSecretName: "sandbox-client-tls" });
    const at = names(env).indexOf("OPENSHELL_SSH_SOCKET_PATH");
    expect(env.slice(at + 1, at + 5)).toEqual([
      { name: "OPENSHELL_TLS_CA", value: "/etc/openshell-tls/client/ca.crt" },
      { name: "OPENSHELL_TLS_CERT", value: "/etc/openshell-tls/client/tls.crt" },
      { name: "OPENSHELL_TLS_KEY", value: "/etc/openshell-tls/client/tls.key" },
      { name: "OPENSHELL_K8S_SA_TOKEN_FILE", value: "/var/run/secrets/openshell/token" },
    ]);
    expect(names(agentEnv(makeSandbox()))).not.toContain("OPENSHELL_TLS_CA");
  });

  test("the configured sandbox identity ends the list", () => {
    const env = agentEnv(makeSandbox(), { sandboxUid: 2000, sandboxGid: 3000 });
    expect(env.slice(-3)).toEqual([
      { name: "OPENSHELL_OCI_IMAGE_USER", value: "" },
      { name: "OPENSHELL_SANDBOX_UID", value: "2000" },
      { name: "OPENSHELL_SANDBOX_GID", value: "3000" },
    ]);
  });

  test("the same request always renders the same order, whatever order the maps arrived in", () => {
    const a = makeSandbox({ spec: { environment: { Z: "1", A: "2", M: "3" } } });
    const b = makeSandbox({ spec: { environment: { M: "3", Z: "1", A: "2" } } });
    expect(agentEnv(a)).toEqual(agentEnv(b));
  });

  test("the sandbox token is never put in the environment", () => {
    const sandbox = makeSandbox({ spec: { sandboxToken: "jwt-secret-token" } });
    expect(JSON.stringify(agentEnv(sandbox))).not.toContain("jwt-secret-token");
  });
});
