import { describe, expect, test } from "bun:test";
import { buildEnv } from "../../src/sandbox";
import { makeSandbox } from "./fixtures";

const ENDPOINT = { gatewayEndpoint: "https://gw:8080" };

function names(env: { name: string }[]): string[] {
  return env.map((e) => e.name);
}

function valueOf(env: { name: string; value?: string }[], name: string): string | undefined {
  return env.find((e) => e.name === name)?.value;
}

describe("sandbox environment", () => {
  test("template env, spec env, log level, user env, main process, then driver-owned variables", () => {
    const sandbox = makeSandbox({
      spec: {
        logLevel: "info",
        environment: { B: "spec" },
        template: { environment: { A: "template" } },
      },
    });
    expect(names(buildEnv(sandbox, ENDPOINT))).toEqual([
      "A",
      "B",
      "OPENSHELL_LOG_LEVEL",
      "OPENSHELL_USER_ENVIRONMENT",
      "OPENSHELL_MAIN_PROCESS_SPEC",
      "OPENSHELL_SANDBOX_ID",
      "OPENSHELL_SANDBOX",
      "OPENSHELL_ENDPOINT",
      "OPENSHELL_SSH_SOCKET_PATH",
      "OPENSHELL_K8S_SA_TOKEN_FILE",
    ]);
  });

  test("a spec variable overrides the template variable of the same name and appears once", () => {
    const sandbox = makeSandbox({
      spec: { environment: { SHARED: "spec" }, template: { environment: { SHARED: "template", OTHER: "t" } } },
    });
    const env = buildEnv(sandbox, ENDPOINT);
    expect(env.filter((e) => e.name === "SHARED")).toEqual([{ name: "SHARED", value: "spec" }]);
    expect(JSON.parse(valueOf(env, "OPENSHELL_USER_ENVIRONMENT") ?? "")).toEqual({ OTHER: "t", SHARED: "spec" });
  });

  test("a user cannot override driver-owned variables; they stay last with the driver's value", () => {
    const sandbox = makeSandbox({
      spec: { environment: { OPENSHELL_SANDBOX_ID: "spoofed", OPENSHELL_ENDPOINT: "http://evil" } },
    });
    const env = buildEnv(sandbox, ENDPOINT);
    expect(env.filter((e) => e.name === "OPENSHELL_SANDBOX_ID")).toEqual([
      { name: "OPENSHELL_SANDBOX_ID", value: "sb-0123456789abcdef" },
    ]);
    expect(valueOf(env, "OPENSHELL_ENDPOINT")).toBe("https://gw:8080");
    expect(env.at(-1)?.name).toBe("OPENSHELL_K8S_SA_TOKEN_FILE");
  });

  test("the spec log level wins over a template OPENSHELL_LOG_LEVEL", () => {
    const sandbox = makeSandbox({ spec: { logLevel: "warn", template: { environment: { OPENSHELL_LOG_LEVEL: "trace" } } } });
    expect(buildEnv(sandbox, ENDPOINT).filter((e) => e.name === "OPENSHELL_LOG_LEVEL")).toEqual([
      { name: "OPENSHELL_LOG_LEVEL", value: "warn" },
    ]);
  });

  test("without user variables there is no OPENSHELL_USER_ENVIRONMENT and no log level", () => {
    const env = buildEnv(makeSandbox(), ENDPOINT);
    expect(names(env)).not.toContain("OPENSHELL_USER_ENVIRONMENT");
    expect(names(env)).not.toContain("OPENSHELL_LOG_LEVEL");
  });

  test("an empty command runs an interactive login shell", () => {
    const env = buildEnv(makeSandbox(), ENDPOINT);
    expect(valueOf(env, "OPENSHELL_MAIN_PROCESS_SPEC")).toBe('{"version":1,"command":["/bin/bash","-l"],"tty":true}');
  });

  test("an explicit command is passed verbatim with the requested tty", () => {
    const env = buildEnv(makeSandbox({ spec: { command: ["echo", "smoke ok"], tty: false } }), ENDPOINT);
    expect(valueOf(env, "OPENSHELL_MAIN_PROCESS_SPEC")).toBe('{"version":1,"command":["echo","smoke ok"],"tty":false}');
  });

  test("no OPENSHELL_ENDPOINT is set when the driver has no gateway endpoint", () => {
    expect(names(buildEnv(makeSandbox(), { gatewayEndpoint: "" }))).not.toContain("OPENSHELL_ENDPOINT");
  });

  test("the same request always renders the same order, whatever order the maps arrived in", () => {
    const a = makeSandbox({ spec: { environment: { Z: "1", A: "2", M: "3" } } });
    const b = makeSandbox({ spec: { environment: { M: "3", Z: "1", A: "2" } } });
    expect(buildEnv(a, ENDPOINT)).toEqual(buildEnv(b, ENDPOINT));
  });

  test("the sandbox token is never put in the environment", () => {
    const sandbox = makeSandbox({ spec: { sandboxToken: "jwt-secret-token" } });
    expect(JSON.stringify(buildEnv(sandbox, ENDPOINT))).not.toContain("jwt-secret-token");
  });
});
