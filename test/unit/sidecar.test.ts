import { describe, expect, test } from "bun:test";
import type { V1Container } from "@kubernetes/client-node";
import { renderSandbox, validateSandbox } from "../../src/sandbox";
import type { RenderSettings } from "../../src/sandbox/settings";
import { AUTHENTICATED_PROXY, makeSandbox, makeSettings } from "./fixtures";

function pod(overrides: Partial<RenderSettings> = {}, sandbox = makeSandbox()) {
  const settings = makeSettings({ supervisorTopology: "sidecar", ...overrides });
  return renderSandbox(validateSandbox(sandbox, settings), settings).spec.podTemplate.spec;
}

function container(containers: V1Container[] | undefined, name: string): V1Container {
  const found = containers?.find((c) => c.name === name);
  if (!found) throw new Error(`no container ${name}`);
  return found;
}

describe("sidecar topology, as upstream's apply_supervisor_sidecar_topology", () => {
  test("init containers run in upstream's order: supervisor install, network init, workspace seed", () => {
    expect(pod().initContainers?.map((c) => c.name)).toEqual(["openshell-supervisor-install", "openshell-network-init", "workspace-init"]);
    expect(pod({ supervisorSideload: "image-volume" }).initContainers?.map((c) => c.name)).toEqual([
      "openshell-network-init",
      "workspace-init",
    ]);
  });

  test("the agent runs as the sandbox user with no capabilities, even when user namespaces add some in combined mode", () => {
    const agent = container(pod({ enableUserNamespaces: true, sandboxUid: 4000, sandboxGid: 5000 }).containers, "agent");
    expect(agent.securityContext).toEqual({
      runAsUser: 4000,
      runAsGroup: 5000,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
  });

  test("gateway credentials stay out of the agent: no token or certificate mount, endpoint or credential variable", () => {
    const agent = container(pod({ clientTlsSecretName: "sandbox-client-tls" }).containers, "agent");
    expect(agent.volumeMounts?.map((m) => m.name)).toEqual([
      "openshell-supervisor-bin",
      "openshell-sidecar-state",
      "openshell-supervisor-tls",
      "workspace",
    ]);
    const names = agent.env?.map((e) => e.name) ?? [];
    for (const name of ["OPENSHELL_ENDPOINT", "OPENSHELL_TLS_CA", "OPENSHELL_TLS_KEY", "OPENSHELL_K8S_SA_TOKEN_FILE"]) {
      expect(names).not.toContain(name);
    }
  });

  test("the agent command runs only the process supervisor; proxy arguments go to the network supervisor", () => {
    const spec = pod({ upstreamProxy: AUTHENTICATED_PROXY });
    expect(container(spec.containers, "agent").command).toEqual([
      "/opt/openshell/bin/openshell-sandbox",
      "--mode=process",
      "--workdir",
      "/sandbox",
    ]);
    expect(container(spec.containers, "openshell-supervisor-network").command).toEqual([
      "/openshell-sandbox",
      "--mode=network",
      "--upstream-proxy",
      "http://proxy.corp:3128",
      "--upstream-proxy-auth-file",
      "/etc/openshell/auth/upstream-proxy",
      "--upstream-proxy-auth-allow-insecure",
    ]);
  });

  test("without binary-aware policy the proxy runs as its own non-root UID and relaxes binary identity", () => {
    const spec = pod({ sidecarBinaryAwareNetworkPolicy: false, sidecarProxyUid: 1337 });
    const network = container(spec.containers, "openshell-supervisor-network");
    expect(network.securityContext).toEqual({
      runAsUser: 1337,
      runAsGroup: 1000,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(network.env?.at(-1)).toEqual({ name: "OPENSHELL_NETWORK_BINARY_IDENTITY", value: "relaxed" });
    expect(container(spec.initContainers, "openshell-network-init").command?.slice(1, 5)).toEqual([
      "--mode=network-init",
      "--proxy-uid",
      "1337",
      "--proxy-gid",
    ]);
  });

  test("binary-aware policy runs the proxy as root with the capabilities /proc attribution needs", () => {
    const network = container(pod().containers, "openshell-supervisor-network");
    expect(network.securityContext?.runAsUser).toBe(0);
    expect(network.securityContext?.runAsNonRoot).toBe(false);
    expect(network.securityContext?.capabilities).toEqual({ drop: ["ALL"], add: ["SYS_PTRACE", "DAC_READ_SEARCH"] });
    expect(network.env?.map((e) => e.name)).not.toContain("OPENSHELL_NETWORK_BINARY_IDENTITY");
  });

  test("the network supervisor takes its log level from the spec, then spec env, then template env", () => {
    const logLevelOf = (sandbox: ReturnType<typeof makeSandbox>) =>
      container(pod({}, sandbox).containers, "openshell-supervisor-network").env?.find((e) => e.name === "OPENSHELL_LOG_LEVEL")?.value;
    expect(logLevelOf(makeSandbox({ spec: { template: { environment: { OPENSHELL_LOG_LEVEL: "trace" } } } }))).toBe("trace");
    expect(
      logLevelOf(makeSandbox({ spec: { environment: { OPENSHELL_LOG_LEVEL: "warn" }, template: { environment: { OPENSHELL_LOG_LEVEL: "trace" } } } })),
    ).toBe("warn");
    expect(logLevelOf(makeSandbox({ spec: { logLevel: "error", environment: { OPENSHELL_LOG_LEVEL: "warn" } } }))).toBe("error");
    expect(logLevelOf(makeSandbox())).toBeUndefined();
  });

  test("proxy credentials are one Secret key, group-readable, mounted only into the network supervisor", () => {
    const spec = pod({ upstreamProxy: AUTHENTICATED_PROXY });
    expect(spec.volumes?.find((v) => v.name === "openshell-upstream-proxy-auth")).toEqual({
      name: "openshell-upstream-proxy-auth",
      secret: { secretName: "proxy-credentials", defaultMode: 0o440, items: [{ key: "basic-auth", path: "upstream-proxy" }] },
    });
    const mountedBy = (spec.containers ?? []).filter((c) => c.volumeMounts?.some((m) => m.name === "openshell-upstream-proxy-auth"));
    expect(mountedBy.map((c) => c.name)).toEqual(["openshell-supervisor-network"]);
  });

  test("the pod shares its process namespace and gives volumes the sandbox group even without the workspace claim", () => {
    const sandbox = makeSandbox({
      spec: {
        template: {
          driverConfig: {
            containers: { agent: { volume_mounts: [{ name: "data", mount_path: "/sandbox/data" }] } },
            volumes: [{ name: "data", persistent_volume_claim: { claim_name: "data" } }],
          },
        },
      },
    });
    const spec = pod({ sandboxGid: 4242, sandboxUid: 4242 }, sandbox);
    expect(spec.shareProcessNamespace).toBe(true);
    expect(spec.securityContext).toEqual({ fsGroup: 4242 });
    expect(spec.initContainers?.map((c) => c.name)).not.toContain("workspace-init");
  });
});
