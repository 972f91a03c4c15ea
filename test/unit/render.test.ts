import { describe, expect, test } from "bun:test";
import type { JsonObject } from "@bufbuild/protobuf";
import { renderSandbox, supervisorBinaryInContainer, validateSandbox } from "../../src/sandbox";
import type { RenderSettings } from "../../src/sandbox/settings";
import { makeSandbox, makeSettings } from "./fixtures";
import { expectGolden } from "./golden";

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
  test("a minimal sandbox renders as a v1beta1 CR with an init-container sideload", () => {
    expectGolden("minimal-v1beta1", render());
  });

  test("a full sandbox renders env, resources, GPU, volumes, scheduling and platform settings", () => {
    const settings = makeSettings({ imagePullPolicy: "IfNotPresent", imagePullSecrets: [" regcred ", ""] });
    expectGolden("full-v1beta1", render(fullSandbox(), settings));
  });

  test("an image-volume sideload mounts the supervisor image instead of copying it", () => {
    const settings = makeSettings({ supervisorSideload: "image-volume", supervisorBinaryPath: "/usr/bin/openshell-sandbox" });
    expectGolden("image-volume", render(makeSandbox(), settings));
  });

  test("on a v1alpha1-only cluster the same spec renders under agents.x-k8s.io/v1alpha1", () => {
    expectGolden("minimal-v1alpha1", render(makeSandbox(), makeSettings({ apiVersion: "v1alpha1" })));
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

  test("a user annotation cannot impersonate another sandbox id", () => {
    const sandbox = makeSandbox({
      spec: { template: { platformConfig: { annotations: { "openshell.io/sandbox-id": "someone-else" } } } },
    });
    expect(render(sandbox).spec.podTemplate.metadata?.annotations?.["openshell.io/sandbox-id"]).toBe("sb-0123456789abcdef");
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

  test("user namespaces are requested only when platform_config says host_users=false", () => {
    expect(render().spec.podTemplate.spec.hostUsers).toBeUndefined();
    const on = makeSandbox({ spec: { template: { platformConfig: { host_users: false } } } });
    expect(render(on).spec.podTemplate.spec.hostUsers).toBe(false);
    const off = makeSandbox({ spec: { template: { platformConfig: { host_users: true } } } });
    expect(render(off).spec.podTemplate.spec.hostUsers).toBeUndefined();
  });

  test("the request image wins over the default image", () => {
    const sandbox = makeSandbox({ spec: { template: { image: "python:3.12" } } });
    expect(agentOf(render(sandbox)).image).toBe("python:3.12");
    expect(agentOf(render()).image).toBe("ghcr.io/nvidia/openshell-community/sandboxes/base:latest");
  });

  test("the init-container sideload runs without root so OpenShift's restricted SCC admits it", () => {
    const init = render().spec.podTemplate.spec.initContainers?.[0];
    expect(init?.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    expect(init?.command).toEqual(["/openshell-sandbox", "copy-self", "/opt/openshell/bin/openshell-sandbox"]);
  });

  test("an image-volume supervisor keeps its file name and the agent runs it from there", () => {
    const settings = makeSettings({ supervisorSideload: "image-volume", supervisorBinaryPath: "/bin/supervisor" });
    const cr = render(makeSandbox(), settings);
    expect(agentOf(cr).command?.[0]).toBe("/opt/openshell/bin/supervisor");
    expect(agentOf(cr).volumeMounts?.at(-1)).toEqual({
      name: "openshell-supervisor-bin",
      mountPath: "/opt/openshell/bin",
      readOnly: true,
      subPath: "bin",
    });
    expect(cr.spec.podTemplate.spec.initContainers).toBeUndefined();
  });

  test("the in-container supervisor path is the same for both sideloads with the canonical binary", () => {
    const base = { supervisorImage: "x", supervisorBinaryPath: "/openshell-sandbox", supervisorMountPath: "/opt/openshell/bin/" };
    expect(supervisorBinaryInContainer({ ...base, supervisorSideload: "init-container" })).toBe("/opt/openshell/bin/openshell-sandbox");
    expect(supervisorBinaryInContainer({ ...base, supervisorSideload: "image-volume" })).toBe("/opt/openshell/bin/openshell-sandbox");
  });
});
