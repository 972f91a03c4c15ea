import { describe, expect, test } from "bun:test";
import { ConfigError, parseDuration, resolveConfig } from "../../src/config";

describe("configuration", () => {
  test("defaults give a usable config, with JSON logs when stdout is not a terminal", () => {
    const config = resolveConfig({}, {}, false);
    expect(config).toMatchObject({
      socket: "/var/run/openshell-driver.sock",
      namespace: "openshell-system",
      gatewayId: "openshell",
      supervisorSideload: "init-container",
      sandboxApiVersion: "auto",
      gpuSupport: true,
      healthPort: 9090,
      logFormat: "json",
      kubeTimeoutMs: 30_000,
      kubeconfig: undefined,
    });
    expect(resolveConfig({}, {}, true).logFormat).toBe("pretty");
  });

  test("a flag wins over its OPENSHELL_DRIVER_* variable, which wins over the default", () => {
    const env = { OPENSHELL_DRIVER_NAMESPACE: "from-env", OPENSHELL_DRIVER_GATEWAY_ID: "gw-env" };
    const config = resolveConfig({ namespace: "from-flag" }, env, false);
    expect(config.namespace).toBe("from-flag");
    expect(config.gatewayId).toBe("gw-env");
  });

  test("list and boolean flags parse the way operators write them", () => {
    const config = resolveConfig({ "image-pull-secrets": " regcred, other ,", "gpu-support": "false" }, {}, false);
    expect(config.imagePullSecrets).toEqual(["regcred", "other"]);
    expect(config.gpuSupport).toBe(false);
    expect(resolveConfig({ "gpu-support": "" }, {}, false).gpuSupport).toBe(true);
  });

  test("durations accept Go-style units and bare seconds", () => {
    expect(parseDuration("30s", "x")).toBe(30_000);
    expect(parseDuration("1m30s", "x")).toBe(90_000);
    expect(parseDuration("250ms", "x")).toBe(250);
    expect(parseDuration("2", "x")).toBe(2000);
  });

  test.each([
    ["kube-timeout", "soon"],
    ["kube-timeout", "0s"],
    ["namespace", "Has_Caps"],
    ["gateway-id", "-leading-dash"],
    ["supervisor-sideload", "hostpath"],
    ["sandbox-api-version", "v2"],
    ["health-port", "65536"],
    ["image-pull-policy", "missing"],
    ["supervisor-mount-path", "relative/path"],
    ["supervisor-binary-path", "/opt/../etc/passwd"],
    ["gateway-endpoint", "grpc://gateway:8080"],
    ["image-pull-secrets", "Bad_Name"],
    ["socket", "/" + "s".repeat(120)],
  ])("--%s=%p is refused with an error naming the flag", (flag, value) => {
    let error: unknown;
    try {
      resolveConfig({ [flag]: value }, {}, false);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toStartWith(`invalid --${flag}: `);
  });
});
