import { describe, expect, test } from "bun:test";
import { ConfigError, parseDuration, resolveConfig } from "../../src/config";

function refusal(flags: Record<string, string>, env: Record<string, string> = {}): ConfigError {
  try {
    resolveConfig(flags, env, false);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(flags)}`);
}

describe("configuration", () => {
  test("defaults give a usable config, with JSON logs when stdout is not a terminal", () => {
    const config = resolveConfig({}, {}, false);
    expect(config.server).toMatchObject({
      socket: "/var/run/openshell-compute/driver/driver.sock",
      sandboxApiVersion: "auto",
      healthPort: 9090,
      logFormat: "json",
      kubeTimeoutMs: 30_000,
    });
    expect(config.server.kubeconfig).toBeUndefined();
    expect(config.render).toMatchObject({
      namespace: "openshell-system",
      gatewayId: "openshell",
      workspaceMode: "shared",
      supervisorSideload: "init-container",
      supervisorTopology: "combined",
      gpuSupport: true,
    });
    expect(resolveConfig({}, {}, true).server.logFormat).toBe("pretty");
  });

  test("the default supervisor binary path is where the published supervisor image keeps it", () => {
    expect(resolveConfig({}, {}, false).render.supervisorBinaryPath).toBe("/openshell-sandbox");
  });

  test("sandbox settings default to upstream's: 2Gi workspace, telemetry on, SSH socket, one-hour token, no user namespaces", () => {
    const { render } = resolveConfig({}, {}, false);
    expect(render).toMatchObject({
      workspaceStorageSize: "2Gi",
      workspaceStorageClass: "",
      sandboxTelemetry: true,
      sshSocketPath: "/run/openshell/ssh.sock",
      saTokenTtlSeconds: 3600,
      enableUserNamespaces: false,
      sidecarProxyUid: 1337,
      sidecarBinaryAwareNetworkPolicy: true,
      appArmorProfile: undefined,
      upstreamProxy: { url: "", noProxy: "", authSecretName: "", authSecretKey: "", allowInsecure: false, connectByHostname: false },
      managedSshIngress: { enabled: false, gatewayNamespace: "", gatewayPodSelector: {} },
    });
    expect(render.sandboxUid).toBeUndefined();
    expect(render.sandboxGid).toBeUndefined();
  });

  test("a flag wins over its OPENSHELL_DRIVER_* variable, which wins over upstream's variable name, which wins over the default", () => {
    const env = {
      OPENSHELL_DRIVER_NAMESPACE: "from-env",
      OPENSHELL_SANDBOX_NAMESPACE: "from-upstream-name",
      OPENSHELL_DRIVER_GATEWAY_ID: "gw-env",
      OPENSHELL_GATEWAY_ID: "gw-upstream",
      OPENSHELL_K8S_TOPOLOGY: "sidecar",
    };
    const { render } = resolveConfig({ namespace: "from-flag" }, env, false);
    expect(render.namespace).toBe("from-flag");
    expect(render.gatewayId).toBe("gw-env");
    expect(render.supervisorTopology).toBe("sidecar");
  });

  test("the gateway's reference deployment environment configures the driver through upstream's variable names", () => {
    const { server, render } = resolveConfig(
      {},
      {
        OPENSHELL_COMPUTE_DRIVER_SOCKET: "/var/run/openshell-compute/driver/driver.sock",
        OPENSHELL_GATEWAY_ID: "openshell",
        OPENSHELL_SANDBOX_NAMESPACE: "openshell",
        OPENSHELL_K8S_SANDBOX_SERVICE_ACCOUNT: "openshell-sandbox",
        OPENSHELL_SANDBOX_IMAGE: "ghcr.io/nvidia/openshell-community/sandboxes/base:latest",
        OPENSHELL_SANDBOX_IMAGE_PULL_POLICY: "IfNotPresent",
        OPENSHELL_GRPC_ENDPOINT: "http://openshell.openshell.svc.cluster.local:8080",
        OPENSHELL_SUPERVISOR_IMAGE: "ghcr.io/nvidia/openshell/supervisor:0.9.0",
        OPENSHELL_SUPERVISOR_IMAGE_PULL_POLICY: "IfNotPresent",
        OPENSHELL_SUPERVISOR_SIDELOAD_METHOD: "init-container",
        OPENSHELL_K8S_TOPOLOGY: "combined",
        OPENSHELL_TELEMETRY_ENABLED: "false",
        OPENSHELL_K8S_SA_TOKEN_TTL_SECS: "7200",
      },
      false,
    );
    expect(server.socket).toBe("/var/run/openshell-compute/driver/driver.sock");
    expect(render).toMatchObject({
      namespace: "openshell",
      serviceAccountName: "openshell-sandbox",
      imagePullPolicy: "IfNotPresent",
      gatewayEndpoint: "http://openshell.openshell.svc.cluster.local:8080",
      supervisorImage: "ghcr.io/nvidia/openshell/supervisor:0.9.0",
      supervisorImagePullPolicy: "IfNotPresent",
      sandboxTelemetry: false,
      saTokenTtlSeconds: 7200,
    });
  });

  test("list, map and boolean flags parse the way operators write them", () => {
    const { render } = resolveConfig(
      {
        "image-pull-secrets": " regcred, other ,",
        "gpu-support": "false",
        "workspace-mode": "managed",
        "managed-ssh-ingress-enabled": "",
        "managed-ssh-gateway-namespace": "openshell",
        "managed-ssh-gateway-pod-selector": "app.kubernetes.io/name=openshell, tier=gateway",
      },
      {},
      false,
    );
    expect(render.imagePullSecrets).toEqual(["regcred", "other"]);
    expect(render.gpuSupport).toBe(false);
    expect(render.managedSshIngress).toEqual({
      enabled: true,
      sandboxPolicy: false,
      gatewayNamespace: "openshell",
      gatewayPodSelector: { "app.kubernetes.io/name": "openshell", tier: "gateway" },
    });
    expect(resolveConfig({ "gpu-support": "" }, {}, false).render.gpuSupport).toBe(true);
  });

  test.each([
    ["0", 3600],
    ["-5", 3600],
    ["60", 600],
    ["7200", 7200],
    ["999999", 86_400],
  ])("a service-account token lifetime of %p seconds is clamped as upstream does, to %p", (raw, expected) => {
    expect(resolveConfig({ "sa-token-ttl-secs": raw }, {}, false).render.saTokenTtlSeconds).toBe(expected);
  });

  test("AppArmor profiles are read as upstream spells them", () => {
    const profile = (raw: string) => resolveConfig({ "app-armor-profile": raw }, {}, false).render.appArmorProfile;
    expect(profile("Unconfined")).toEqual({ type: "Unconfined" });
    expect(profile("RuntimeDefault")).toEqual({ type: "RuntimeDefault" });
    expect(profile("Localhost/openshell-sandbox")).toEqual({ type: "Localhost", localhostProfile: "openshell-sandbox" });
    expect(profile("")).toBeUndefined();
  });

  test("a complete upstream proxy with credentials is accepted in the sidecar topology", () => {
    const { render } = resolveConfig(
      {
        "https-proxy": "http://proxy.corp.example:3128",
        "no-proxy": "localhost,.svc",
        "proxy-auth-secret-name": "proxy-auth",
        "proxy-auth-secret-key": "credentials",
        "proxy-auth-allow-insecure": "true",
        "supervisor-topology": "sidecar",
      },
      {},
      false,
    );
    expect(render.upstreamProxy).toEqual({
      url: "http://proxy.corp.example:3128",
      noProxy: "localhost,.svc",
      authSecretName: "proxy-auth",
      authSecretKey: "credentials",
      allowInsecure: true,
      connectByHostname: false,
    });
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
    ["workspace-mode", "per-user"],
    ["supervisor-sideload", "hostpath"],
    ["supervisor-topology", "split"],
    ["supervisor-image-pull-policy", "missing"],
    ["sandbox-api-version", "v2"],
    ["health-port", "65536"],
    ["image-pull-policy", "missing"],
    ["supervisor-mount-path", "relative/path"],
    ["supervisor-binary-path", "/opt/../etc/passwd"],
    ["gateway-endpoint", "grpc://gateway:8080"],
    ["image-pull-secrets", "Bad_Name"],
    ["socket", "/" + "s".repeat(120)],
    ["sandbox-uid", "0"],
    ["sandbox-gid", "4294967295"],
    ["sidecar-proxy-uid", "999"],
    ["sa-token-ttl-secs", "an hour"],
    ["host-gateway-ip", "host.internal"],
    ["app-armor-profile", "Localhost/"],
    ["app-armor-profile", "unconfined"],
    ["workspace-storage-size", "two gigs"],
    ["workspace-storage-class", "Fast_SSD"],
    ["client-tls-secret-name", "Bad_Secret"],
    ["sandbox-telemetry", "maybe"],
    ["managed-ssh-gateway-pod-selector", "app"],
  ])("--%s=%p is refused with an error naming the flag", (flag, value) => {
    expect(refusal({ [flag]: value }).message).toStartWith(`invalid --${flag}: `);
  });

  test("a bad value in upstream's variable name is refused naming our flag", () => {
    expect(refusal({}, { OPENSHELL_K8S_TOPOLOGY: "split" }).flag).toBe("supervisor-topology");
  });

  test.each([
    ["a proxy URL with a path", { "https-proxy": "http://proxy:3128/path" }, "https-proxy"],
    ["a proxy URL without a port", { "https-proxy": "http://proxy" }, "https-proxy"],
    ["an https proxy URL", { "https-proxy": "https://proxy:443" }, "https-proxy"],
    ["a proxy URL with credentials", { "https-proxy": "http://user:pw@proxy:3128" }, "https-proxy"],
    ["no-proxy without a proxy", { "no-proxy": "localhost" }, "no-proxy"],
    ["connect-by-hostname without a proxy", { "proxy-connect-by-hostname": "true" }, "proxy-connect-by-hostname"],
    ["allow-insecure without credentials", { "https-proxy": "http://proxy:3128", "proxy-auth-allow-insecure": "true" }, "proxy-auth-allow-insecure"],
    ["a secret name without a key", { "https-proxy": "http://proxy:3128", "proxy-auth-secret-name": "auth" }, "proxy-auth-secret-key"],
    ["credentials without consent to send them in the clear", { "https-proxy": "http://proxy:3128", "proxy-auth-secret-name": "auth", "proxy-auth-secret-key": "k", "supervisor-topology": "sidecar" }, "proxy-auth-secret-name"],
    ["credentials in the combined topology", { "https-proxy": "http://proxy:3128", "proxy-auth-secret-name": "auth", "proxy-auth-secret-key": "k", "proxy-auth-allow-insecure": "true" }, "proxy-auth-secret-name"],
    ["a secret key with a slash", { "https-proxy": "http://proxy:3128", "proxy-auth-secret-name": "auth", "proxy-auth-secret-key": "a/b", "proxy-auth-allow-insecure": "true", "supervisor-topology": "sidecar" }, "proxy-auth-secret-key"],
    ["a gateway id too long for managed namespaces", { "workspace-mode": "managed", "gateway-id": "g".repeat(34) }, "gateway-id"],
    ["SSH ingress without the gateway namespace", { "workspace-mode": "managed", "managed-ssh-ingress-enabled": "true", "managed-ssh-gateway-pod-selector": "app=gw" }, "managed-ssh-gateway-namespace"],
    ["SSH ingress without a gateway pod selector", { "workspace-mode": "managed", "managed-ssh-ingress-enabled": "true", "managed-ssh-gateway-namespace": "openshell" }, "managed-ssh-gateway-pod-selector"],
  ])("settings that only work together are checked together: %s", (_what, flags, flag) => {
    expect(refusal(flags).flag).toBe(flag);
  });

  test("a 33-character gateway id still fits managed namespaces", () => {
    expect(resolveConfig({ "workspace-mode": "managed", "gateway-id": "g".repeat(33) }, {}, false).render.gatewayId).toHaveLength(33);
  });
});
