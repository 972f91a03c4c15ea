import { describe, expect, test } from "bun:test";
import type { JsonObject } from "@bufbuild/protobuf";
import { renderSandbox, supervisorBinaryInContainer, validateSandbox } from "../../src/sandbox";
import type { RenderSettings } from "../../src/sandbox/settings";
import { AUTHENTICATED_PROXY, makeSandbox, makeSettings as baseSettings, WIDENED_FOR_UPSTREAM_FIELDS } from "./fixtures";
import { expectRejection } from "./expect-rejection";
import { expectGolden } from "./golden";

/** These tests pin upstream's rendering of every scheduling field: the operator widened the policy to them. */
function makeSettings(overrides: Partial<RenderSettings> = {}): RenderSettings {
  return baseSettings({ requestPolicy: WIDENED_FOR_UPSTREAM_FIELDS, ...overrides });
}

function render(sandbox = makeSandbox(), settings: RenderSettings = makeSettings()) {
  return renderSandbox(validateSandbox(sandbox, settings), settings);
}

function agentOf(cr: ReturnType<typeof render>) {
  const agent = cr.spec.podTemplate.spec.containers[0];
  if (!agent) throw new Error("no agent container");
  return agent;
}

const fullDriverConfig: JsonObject = {
  pod: {
    node_selector: { "topology.kubernetes.io/zone": "eu-1a", pool: "driver" },
    tolerations: [{ key: "dedicated", operator: "Equal", value: "sandboxes", effect: "NoSchedule" }],
    priority_class_name: "sandbox-high",
  },
  containers: {
    agent: {
      resources: { requests: { "ephemeral-storage": "1Gi", cpu: "100m" }, limits: { "ephemeral-storage": "4Gi" } },
      volume_mounts: [
        { name: "datasets", mount_path: "/data/sets", read_only: true },
        { name: "scratch", mount_path: "/scratch", sub_path: "users/alice", read_only: false },
      ],
    },
  },
  volumes: [
    { name: "datasets", persistent_volume_claim: { claim_name: "shared-datasets" } },
    { name: "scratch", persistent_volume_claim: { claim_name: "scratch-pvc", read_only: false } },
  ],
};

const fullPlatformConfig: JsonObject = {
  runtime_class_name: "kata",
  annotations: { "example.com/cost-center": "42" },
  node_selector: { pool: "platform" },
  tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
  host_users: false,
};

function fullSandbox() {
  return makeSandbox({
    spec: {
      logLevel: "debug",
      environment: { API_MODE: "spec", SHARED: "from-spec" },
      command: ["python", "-m", "agent"],
      tty: false,
      resourceRequirements: { gpu: { count: 2 } },
      template: {
        image: "registry.example.com:5000/team/agent@sha256:" + "a".repeat(64),
        labels: { team: "ml" },
        environment: { SHARED: "from-template", TEMPLATE_ONLY: "t" },
        resources: { cpuLimit: "2", memoryRequest: "1Gi", memoryLimit: "4Gi" },
        driverConfig: fullDriverConfig,
        platformConfig: fullPlatformConfig,
      },
    },
  });
}

describe("rendered Sandbox CRs match their golden files", () => {
  test("a minimal sandbox renders upstream's default pod: copy-self init container, workspace claim and seed, driver-owned env", () => {
    expectGolden("minimal-v1beta1", render());
  });

  test("a full sandbox renders env, resources, GPU, volumes, scheduling and user namespaces as upstream's sandbox_template_to_k8s", () => {
    const settings = makeSettings({ imagePullPolicy: "IfNotPresent", imagePullSecrets: [" regcred ", ""] });
    expectGolden("full-v1beta1", render(fullSandbox(), settings));
  });

  test("an image-volume sideload mounts the whole published supervisor image, as upstream's supervisor_image_volume", () => {
    const settings = makeSettings({ supervisorSideload: "image-volume", supervisorImagePullPolicy: "IfNotPresent" });
    expectGolden("image-volume", render(makeSandbox(), settings));
  });

  test("on a v1alpha1-only cluster the same spec, workspace claim included, renders under agents.x-k8s.io/v1alpha1", () => {
    expectGolden("minimal-v1alpha1", render(makeSandbox(), makeSettings({ apiVersion: "v1alpha1" })));
  });

  test("client TLS, the upstream proxy, AppArmor, host aliases, the token TTL and the agent socket render as upstream's", () => {
    const settings = makeSettings({
      clientTlsSecretName: "sandbox-client-tls",
      saTokenTtlSeconds: 600,
      hostGatewayIp: "172.17.0.1",
      appArmorProfile: { type: "Localhost", localhostProfile: "openshell-sandbox" },
      upstreamProxy: { ...makeSettings().upstreamProxy, url: "http://proxy.corp:3128", noProxy: ".corp,10.0.0.0/8", connectByHostname: true },
    });
    const sandbox = makeSandbox({ spec: { template: { agentSocketPath: "/run/agent/agent.sock" } } });
    expectGolden("tls-proxy-apparmor", render(sandbox, settings));
  });

  test("the sidecar topology renders upstream's network init container, network supervisor and unprivileged agent", () => {
    const settings = makeSettings({
      supervisorTopology: "sidecar",
      supervisorImagePullPolicy: "Always",
      clientTlsSecretName: "sandbox-client-tls",
      appArmorProfile: { type: "RuntimeDefault" },
      upstreamProxy: AUTHENTICATED_PROXY,
    });
    expectGolden("sidecar", render(makeSandbox({ spec: { logLevel: "debug" } }), settings));
  });

  test("driver-wide user namespaces add the capabilities upstream adds for switching to the sandbox user", () => {
    expectGolden("user-namespaces", render(makeSandbox(), makeSettings({ enableUserNamespaces: true })));
  });

  test("on OpenShift the sandbox runs as the namespace's UID range start, as upstream's resolve_sandbox_identity_in_namespace", () => {
    const settings = makeSettings({ workspaceMode: "managed" });
    const annotations = {
      "openshift.io/sa.scc.uid-range": "1000680000/10000",
      "openshift.io/sa.scc.supplemental-groups": "1000690000/10000",
      "openshift.io/sa.scc.mcs": "s0:c26,c10",
    };
    expectGolden("openshift-identity", renderSandbox(validateSandbox(makeSandbox(), settings), settings, annotations));
  });

  test("a user volume under /sandbox takes over the workspace, as upstream's has_explicit_sandbox_data_mount", () => {
    const sandbox = makeSandbox({
      spec: {
        template: {
          driverConfig: {
            containers: { agent: { volume_mounts: [{ name: "projects", mount_path: "/sandbox/projects", read_only: false }] } },
            volumes: [{ name: "projects", persistent_volume_claim: { claim_name: "alice-projects", read_only: false } }],
          },
        },
      },
    });
    expectGolden("workspace-opt-out", render(sandbox));
  });

  test("on Garden Linux hardened nodes the pod runs seccomp and AppArmor Unconfined, beside the workspace's fsGroup", () => {
    const settings = makeSettings({ seccompProfile: { type: "Unconfined" }, appArmorProfile: { type: "Unconfined" } });
    expectGolden("seccomp-apparmor-unconfined", render(makeSandbox(), settings));
  });
});

describe("renderSandbox", () => {
  test("no rendered object mounts anything from the host", () => {
    const variants = [
      render(),
      render(fullSandbox()),
      render(makeSandbox(), makeSettings({ supervisorSideload: "image-volume" })),
    ];
    for (const cr of variants) expect(JSON.stringify(cr)).not.toContain("hostPath");
  });

  test("the CR is named workspace--name and labelled so this gateway can find it", () => {
    const cr = render();
    expect(cr.metadata.name).toBe("alice--demo");
    expect(cr.metadata.namespace).toBe("openshell");
    expect(cr.metadata.labels).toEqual({
      "openshell.ai/sandbox-id": "sb-0123456789abcdef",
      "openshell.ai/sandbox-name": "demo",
      "openshell.ai/sandbox-workspace": "alice",
      "openshell.ai/managed-by": "openshell",
      "openshell.ai/gateway-id": "gw-test",
      "kagenti.io/type": "agent",
    });
    expect(cr.spec.operatingMode).toBeUndefined();
    expect(cr.spec.replicas).toBeUndefined();
  });

  test("the pod carries the labels the driver watches and the annotation the gateway authenticates", () => {
    const cr = render(fullSandbox());
    expect(cr.spec.podTemplate.metadata?.labels).toEqual({
      team: "ml",
      "openshell.ai/sandbox-id": "sb-0123456789abcdef",
      "openshell.ai/managed-by": "openshell",
      "openshell.ai/gateway-id": "gw-test",
    });
    expect(cr.spec.podTemplate.metadata?.annotations?.["openshell.io/sandbox-id"]).toBe("sb-0123456789abcdef");
  });

  test("a user annotation of the key the gateway authenticates by is refused before anything renders", () => {
    const sandbox = makeSandbox({
      spec: { template: { platformConfig: { annotations: { "openshell.io/sandbox-id": "someone-else" } } } },
    });
    expectRejection(() => render(sandbox), "PermissionDenied", 'sandbox.spec.template.platform_config.annotations["openshell.io/sandbox-id"]');
  });

  const runtimeClassCases: [string, JsonObject | undefined, JsonObject | undefined, string, string | undefined][] = [
    ["platform_config wins over everything", { runtime_class_name: "p" }, { pod: { runtime_class_name: "d" } }, "s", "p"],
    ["driver_config wins over the driver default", undefined, { pod: { runtime_class_name: "d" } }, "s", "d"],
    ["the driver default applies when the request names none", undefined, undefined, "s", "s"],
    ["no runtime class is set when nobody names one", undefined, undefined, "", undefined],
    ["an empty platform value falls through to driver_config", { runtime_class_name: "" }, { pod: { runtime_class_name: "d" } }, "", "d"],
  ];
  test.each(runtimeClassCases)("runtimeClassName precedence: %s", (_, platformConfig, driverConfig, fallback, expected) => {
    const sandbox = makeSandbox({ spec: { template: { platformConfig, driverConfig } } });
    const cr = render(sandbox, makeSettings({ runtimeClassName: fallback }));
    expect(cr.spec.podTemplate.spec.runtimeClassName).toBe(expected as string);
  });

  test("a GPU request adds no runtime class", () => {
    const sandbox = makeSandbox({ spec: { resourceRequirements: { gpu: {} } } });
    expect(render(sandbox).spec.podTemplate.spec.runtimeClassName).toBeUndefined();
  });

  test("cpu and memory requests fall back to their limits", () => {
    const sandbox = makeSandbox({ spec: { template: { resources: { cpuLimit: "2", memoryLimit: "4Gi" } } } });
    expect(agentOf(render(sandbox)).resources).toEqual({
      requests: { cpu: "2", memory: "4Gi" },
      limits: { cpu: "2", memory: "4Gi" },
    });
  });

  test("an explicit request is kept next to its higher limit", () => {
    const sandbox = makeSandbox({ spec: { template: { resources: { cpuRequest: "500m", cpuLimit: "2" } } } });
    expect(agentOf(render(sandbox)).resources).toEqual({ requests: { cpu: "500m" }, limits: { cpu: "2" } });
  });

  test("typed and GPU resources win over driver_config; driver_config fills the rest", () => {
    const agent = agentOf(render(fullSandbox()));
    expect(agent.resources?.limits).toEqual({
      cpu: "2",
      memory: "4Gi",
      "nvidia.com/gpu": "2",
      "ephemeral-storage": "4Gi",
    });
    expect(agent.resources?.requests).toEqual({ cpu: "2", memory: "1Gi", "ephemeral-storage": "1Gi" });
  });

  test("a GPU request without a count asks for one GPU", () => {
    const sandbox = makeSandbox({ spec: { resourceRequirements: { gpu: {} } } });
    expect(agentOf(render(sandbox)).resources?.limits?.["nvidia.com/gpu"]).toBe("1");
  });

  test("platform raw resources are the base that typed values overwrite", () => {
    const sandbox = makeSandbox({
      spec: {
        template: {
          resources: { cpuLimit: "1" },
          platformConfig: { resources_raw: { requests: { cpu: "4", "example.com/fpga": "1" }, limits: { cpu: "8", "example.com/fpga": "1" } } },
        },
      },
    });
    expect(agentOf(render(sandbox)).resources).toEqual({
      requests: { cpu: "1", "example.com/fpga": "1" },
      limits: { cpu: "1", "example.com/fpga": "1" },
    });
  });

  test("platform node selectors and tolerations come first; driver_config only adds missing keys", () => {
    const pod = render(fullSandbox()).spec.podTemplate.spec;
    expect(pod.nodeSelector).toEqual({ pool: "platform", "topology.kubernetes.io/zone": "eu-1a" });
    expect(pod.tolerations?.map((t) => t.key)).toEqual(["nvidia.com/gpu", "dedicated"]);
  });

  const userNamespaceCases: [string, JsonObject | undefined, boolean, boolean][] = [
    ["neither the sandbox nor the driver asks for them", undefined, false, false],
    ["the sandbox says host_users=false", { host_users: false }, false, true],
    ["the driver default is on", undefined, true, true],
    ["the sandbox says host_users=true and so does the driver", { host_users: true }, false, false],
  ];
  test.each(userNamespaceCases)("user namespaces as upstream's precedence: %s", (_, platformConfig, driverDefault, expected) => {
    const cr = render(makeSandbox({ spec: { template: { platformConfig } } }), makeSettings({ enableUserNamespaces: driverDefault }));
    expect(cr.spec.podTemplate.spec.hostUsers === false).toBe(expected);
    expect(agentOf(cr).securityContext?.capabilities?.add?.includes("SETUID")).toBe(expected);
  });

  test("the request image wins over the default image", () => {
    const sandbox = makeSandbox({ spec: { template: { image: "python:3.12" } } });
    expect(agentOf(render(sandbox)).image).toBe("python:3.12");
    expect(agentOf(render()).image).toBe("ghcr.io/nvidia/openshell-community/sandboxes/base:latest");
  });

  test("the supervisor copies itself into the emptyDir as root with no capabilities, as upstream's supervisor_init_container", () => {
    const init = render(makeSandbox(), makeSettings({ supervisorImagePullPolicy: "Never" })).spec.podTemplate.spec.initContainers?.[0];
    expect(init?.name).toBe("openshell-supervisor-install");
    expect(init?.command).toEqual(["/openshell-sandbox", "copy-self", "/opt/openshell/bin/openshell-sandbox"]);
    expect(init?.imagePullPolicy).toBe("Never");
    expect(init?.securityContext).toEqual({ runAsUser: 0, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
  });

  test("with default settings the agent runs the supervisor the published image provides", () => {
    for (const supervisorSideload of ["init-container", "image-volume"] as const) {
      expect(agentOf(render(makeSandbox(), makeSettings({ supervisorSideload }))).command).toEqual([
        "/opt/openshell/bin/openshell-sandbox",
        "--workdir",
        "/sandbox",
      ]);
    }
  });

  test("an image-volume supervisor at a custom path keeps its file name and is mounted from its directory", () => {
    const settings = makeSettings({ supervisorSideload: "image-volume", supervisorBinaryPath: "/bin/supervisor" });
    const cr = render(makeSandbox(), settings);
    expect(agentOf(cr).command?.[0]).toBe("/opt/openshell/bin/supervisor");
    expect(agentOf(cr).volumeMounts?.find((m) => m.name === "openshell-supervisor-bin")).toEqual({
      name: "openshell-supervisor-bin",
      mountPath: "/opt/openshell/bin",
      readOnly: true,
      subPath: "bin",
    });
    expect(cr.spec.podTemplate.spec.initContainers?.map((c) => c.name)).toEqual(["workspace-init"]);
  });

  test("the in-container supervisor path is the same for both sideloads with the canonical binary", () => {
    const base = { supervisorBinaryPath: "/openshell-sandbox", supervisorMountPath: "/opt/openshell/bin/" };
    expect(supervisorBinaryInContainer({ ...base, supervisorSideload: "init-container" })).toBe("/opt/openshell/bin/openshell-sandbox");
    expect(supervisorBinaryInContainer({ ...base, supervisorSideload: "image-volume" })).toBe("/opt/openshell/bin/openshell-sandbox");
  });

  test("the CR lives in the sandbox's own namespace, which managed mode gives each workspace", () => {
    const settings = makeSettings({ workspaceMode: "managed" });
    const cr = render(makeSandbox(), settings);
    expect(cr.metadata.namespace).toBe("openshell-gw-test-alice");
    expect(cr.metadata.name).toBe("demo");
  });

  test("an upstream proxy is passed on the supervisor's command line, never in its environment", () => {
    const upstreamProxy = { ...makeSettings().upstreamProxy, url: "http://proxy.corp:3128", noProxy: "localhost" };
    const agent = agentOf(render(makeSandbox(), makeSettings({ upstreamProxy })));
    expect(agent.command).toEqual([
      "/opt/openshell/bin/openshell-sandbox",
      "--workdir",
      "/sandbox",
      "--upstream-proxy",
      "http://proxy.corp:3128",
      "--upstream-no-proxy",
      "localhost",
    ]);
    expect(JSON.stringify(agent.env)).not.toContain("proxy.corp");
  });

  test("the agent socket path becomes spec.agentSocket, as upstream renders it", () => {
    const sandbox = makeSandbox({ spec: { template: { agentSocketPath: "/run/agent.sock" } } });
    expect(render(sandbox).spec).toMatchObject({ agentSocket: "/run/agent.sock" });
    expect(render().spec).not.toHaveProperty("agentSocket");
  });

  test("a GPU sandbox in a user namespace is accepted with a warning for the driver to log, as upstream only warns", () => {
    const settings = makeSettings({ enableUserNamespaces: true });
    const gpu = validateSandbox(makeSandbox({ spec: { resourceRequirements: { gpu: {} } } }), settings);
    expect(gpu.warnings).toEqual(["GPU sandbox with user namespaces: NVIDIA device plugin compatibility is unverified"]);
    expect(validateSandbox(makeSandbox(), settings).warnings).toEqual([]);
    expect(validateSandbox(makeSandbox({ spec: { resourceRequirements: { gpu: {} } } }), makeSettings()).warnings).toEqual([]);
  });
});
