// The request policy (src/sandbox/policy) as a gateway user meets it: what the defaults refuse,
// with which code, field and flag; what each --allowed-* flag then admits; and what never runs.
import { describe, expect, test } from "bun:test";
import type { JsonObject } from "@bufbuild/protobuf";
import { ConfigError, resolveConfig } from "../../src/config";
import { validateSandbox } from "../../src/sandbox";
import { checkGpuCapacity } from "../../src/sandbox/gpu-capacity";
import { gpuKindOf } from "../../src/sandbox/gpu-capacity";
import type { RenderSettings, RequestPolicy } from "../../src/sandbox/settings";
import { expectRejection } from "./expect-rejection";
import { makeSandbox, makeSettings, NO_WIDENING } from "./fixtures";

const PC = "sandbox.spec.template.platform_config";
const DC = "sandbox.spec.template.driver_config";

function withPlatform(platformConfig: JsonObject) {
  return makeSandbox({ spec: { template: { platformConfig } } });
}

function withDriver(driverConfig: JsonObject) {
  return makeSandbox({ spec: { template: { driverConfig } } });
}

function withLabels(labels: Record<string, string>) {
  return makeSandbox({ spec: { template: { labels } } });
}

function widened(policy: Partial<RequestPolicy>, settings: Partial<RenderSettings> = {}): RenderSettings {
  return makeSettings({ requestPolicy: { ...NO_WIDENING, ...policy }, ...settings });
}

const refusedAnnotations = [
  "sidecar.istio.io/userVolume",
  "sidecar.istio.io/userVolumeMount",
  "sidecar.istio.io/proxyImage",
  "sidecar.istio.io/inject",
  "traffic.sidecar.istio.io/excludeOutboundIPRanges",
  "k8s.v1.cni.cncf.io/networks",
  "v1.multus-cni.io/default-network",
  "dev.gvisor.spec.mount.shared.share",
  "container.apparmor.security.beta.kubernetes.io/agent",
  "seccomp.security.alpha.kubernetes.io/pod",
  "openshift.io/required-scc",
  "openshift.io/scc",
  "cluster-autoscaler.kubernetes.io/safe-to-evict",
  "kubectl.kubernetes.io/default-container",
  "linkerd.io/inject",
  "kuma.io/sidecar-injection",
  "policy.cilium.io/proxy-visibility",
  "cni.projectcalico.org/ipAddrs",
  "vault.hashicorp.com/agent-inject",
  "iam.gke.io/gcp-service-account",
  "eks.amazonaws.com/role-arn",
  "sidecar.kyma-project.io/inject",
  "instrumentation.opentelemetry.io/inject-java",
  "io.kubernetes.cri-o.Devices",
  "io.katacontainers.config.hypervisor.kernel_params",
  "run.oci.keep_original_groups",
];

describe("annotation keys something else acts on are refused by default", () => {
  test.each(refusedAnnotations)("%s is PERMISSION_DENIED, naming the key and the flag that would allow it", (key) => {
    const err = expectRejection(
      () => validateSandbox(withPlatform({ annotations: { [key]: "x" } }), makeSettings()),
      "PermissionDenied",
      `${PC}.annotations[${JSON.stringify(key)}]`,
    );
    expect(err.message).toContain(`--allowed-annotation-prefixes=${key}`);
  });

  test("keys the driver, the gateway and the controller own are refused with no flag to open them", () => {
    for (const key of ["openshell.io/sandbox-id", "openshell.ai/component", "agents.x-k8s.io/pod-name"]) {
      const err = expectRejection(
        () => validateSandbox(withPlatform({ annotations: { [key]: "x" } }), widened({ allowedAnnotationPrefixes: ["sidecar.istio.io/"] })),
        "PermissionDenied",
        `${PC}.annotations[${JSON.stringify(key)}]`,
      );
      expect(err.message).toContain("no driver flag allows it");
    }
  });

  test("a tenant's own keys pass untouched", () => {
    const annotations = { "example.com/cost-center": "42", note: "hello", "team.acme.io/owner": "alice" };
    expect(validateSandbox(withPlatform({ annotations }), makeSettings()).platformConfig.annotations).toEqual(annotations);
  });

  test("the operator opens an exact key, or every key under a prefix ending in '/'", () => {
    const exact = widened({ allowedAnnotationPrefixes: ["sidecar.istio.io/inject"] });
    expect(validateSandbox(withPlatform({ annotations: { "sidecar.istio.io/inject": "true" } }), exact).platformConfig.annotations).toEqual({
      "sidecar.istio.io/inject": "true",
    });
    expectRejection(
      () => validateSandbox(withPlatform({ annotations: { "sidecar.istio.io/proxyImage": "evil" } }), exact),
      "PermissionDenied",
      `${PC}.annotations["sidecar.istio.io/proxyImage"]`,
    );
    const prefix = widened({ allowedAnnotationPrefixes: ["prometheus.kubernetes.io/"] });
    expect(() => validateSandbox(withPlatform({ annotations: { "prometheus.kubernetes.io/scrape": "true" } }), prefix)).not.toThrow();
  });
});

describe("label keys", () => {
  test.each(["app.kubernetes.io/name", "app.kubernetes.io/instance", "sidecar.istio.io/inject", "openshell.ai/component", "security.istio.io/tlsMode"])(
    "%s is refused on the pod template",
    (key) => {
      expectRejection(() => validateSandbox(withLabels({ [key]: "x" }), makeSettings()), "PermissionDenied", `sandbox.spec.template.labels[${JSON.stringify(key)}]`);
    },
  );

  test("the chart's selector keys stay closed whatever the operator opens for labels", () => {
    const settings = widened({ allowedLabelPrefixes: ["app.kubernetes.io/"] });
    expect(() => validateSandbox(withLabels({ "app.kubernetes.io/part-of": "ml" }), settings)).not.toThrow();
    expectRejection(() => validateSandbox(withLabels({ "openshell.ai/component": "driver" }), settings), "PermissionDenied", 'sandbox.spec.template.labels["openshell.ai/component"]');
  });

  test("a key --managed-ssh-gateway-pod-selector selects the gateway by is refused, even where the label flag opens it", () => {
    const settings = widened(
      { allowedLabelPrefixes: ["app.kubernetes.io/"] },
      { managedSshIngress: { enabled: true, sandboxPolicy: false, gatewayNamespace: "gw", gatewayPodSelector: { "app.kubernetes.io/name": "openshell-gateway", gw: "yes" } } },
    );
    for (const key of ["app.kubernetes.io/name", "gw"]) {
      const err = expectRejection(() => validateSandbox(withLabels({ [key]: "x" }), settings), "PermissionDenied", `sandbox.spec.template.labels[${JSON.stringify(key)}]`);
      expect(err.message).toContain("--managed-ssh-gateway-pod-selector");
    }
  });

  test("an operator flag that would open a driver-owned prefix is refused at start-up", () => {
    expect(() => resolveConfig({ "allowed-label-prefixes": "openshell.ai/" }, {}, false)).toThrow(ConfigError);
    expect(() => resolveConfig({ "allowed-annotation-prefixes": "openshell.io/sandbox-id" }, {}, false)).toThrow(ConfigError);
    expect(() => resolveConfig({ "allowed-annotation-prefixes": "not a key" }, {}, false)).toThrow(ConfigError);
    const config = resolveConfig({ "allowed-annotation-prefixes": "sidecar.istio.io/, linkerd.io/inject" }, {}, false);
    expect(config.render.requestPolicy.allowedAnnotationPrefixes).toEqual(["sidecar.istio.io/", "linkerd.io/inject"]);
  });

  test("with no flag the policy is the safe default", () => {
    expect(resolveConfig({}, {}, false).render.requestPolicy).toEqual(NO_WIDENING);
  });
});

describe("placement stays inside what the operator gave", () => {
  test("a request's runtime class may not replace --runtime-class-name", () => {
    const settings = makeSettings({ runtimeClassName: "gvisor" });
    const err = expectRejection(() => validateSandbox(withPlatform({ runtime_class_name: "runc" }), settings), "PermissionDenied", `${PC}.runtime_class_name`);
    expect(err.message).toContain("--runtime-class-name=gvisor");
    expect(err.message).toContain("--allowed-runtime-classes=runc");
    expectRejection(() => validateSandbox(withDriver({ pod: { runtime_class_name: "runc" } }), settings), "PermissionDenied", `${DC}.pod.runtime_class_name`);
    expect(() => validateSandbox(withPlatform({ runtime_class_name: "gvisor" }), settings)).not.toThrow();
    expect(() => validateSandbox(withPlatform({ runtime_class_name: "runc" }), widened({ allowedRuntimeClasses: ["runc"] }, { runtimeClassName: "gvisor" }))).not.toThrow();
  });

  test("no priority class by default; the operator's set otherwise", () => {
    expectRejection(
      () => validateSandbox(withDriver({ pod: { priority_class_name: "system-node-critical" } }), makeSettings()),
      "PermissionDenied",
      `${DC}.pod.priority_class_name`,
    );
    const v = validateSandbox(withDriver({ pod: { priority_class_name: "batch-low" } }), widened({ allowedPriorityClasses: ["batch-low"] }));
    expect(v.driverConfig.pod.priorityClassName).toBe("batch-low");
  });

  const refusedTolerations: [string, JsonObject, string][] = [
    ["Exists without a key", { operator: "Exists" }, "operator"],
    ["the control-plane taint", { key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }, "key"],
    ["the legacy master taint", { key: "node-role.kubernetes.io/master", operator: "Exists" }, "key"],
    ["a cordoned node's taint", { key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" }, "key"],
    ["an unreachable node's NoExecute taint", { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute" }, "key"],
    ["any NoExecute taint", { key: "dedicated", operator: "Equal", value: "x", effect: "NoExecute" }, "effect"],
  ];
  test.each(refusedTolerations)("a toleration of %s is refused", (_, toleration, part) => {
    for (const [sandbox, path] of [
      [withPlatform({ tolerations: [toleration] }), `${PC}.tolerations[0]`],
      [withDriver({ pod: { tolerations: [toleration] } }), `${DC}.pod.tolerations[0]`],
    ] as const) {
      const err = expectRejection(() => validateSandbox(sandbox, makeSettings()), "PermissionDenied", `${path}.${part}`);
      expect(err.message).toContain("--allowed-toleration-keys=");
    }
  });

  test("ordinary tolerations pass; named keys and * widen the default", () => {
    const gpu = { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" };
    expect(() => validateSandbox(withPlatform({ tolerations: [gpu] }), makeSettings())).not.toThrow();
    const controlPlane = { key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" };
    expect(() => validateSandbox(withPlatform({ tolerations: [controlPlane] }), widened({ allowedTolerationKeys: ["node-role.kubernetes.io/control-plane"] }))).not.toThrow();
    expect(() => validateSandbox(withPlatform({ tolerations: [{ operator: "Exists" }] }), widened({ allowedTolerationKeys: ["*"] }))).not.toThrow();
  });

  test("a node selector may not pin a named node or the control plane; other node labels pass", () => {
    expectRejection(
      () => validateSandbox(withPlatform({ node_selector: { "kubernetes.io/hostname": "cp-0" } }), makeSettings()),
      "PermissionDenied",
      `${PC}.node_selector["kubernetes.io/hostname"]`,
    );
    expectRejection(
      () => validateSandbox(withDriver({ pod: { node_selector: { "node-role.kubernetes.io/control-plane": "" } } }), makeSettings()),
      "PermissionDenied",
      `${DC}.pod.node_selector["node-role.kubernetes.io/control-plane"]`,
    );
    expect(() => validateSandbox(withPlatform({ node_selector: { "topology.kubernetes.io/zone": "eu-1a", pool: "gpu" } }), makeSettings())).not.toThrow();
    expect(() => validateSandbox(withPlatform({ node_selector: { "kubernetes.io/hostname": "n1" } }), widened({ allowedNodeSelectorKeys: ["kubernetes.io/hostname"] }))).not.toThrow();
  });

  test("host_users: true cannot turn off --enable-user-namespaces; asking for more isolation is fine", () => {
    const userNs = makeSettings({ enableUserNamespaces: true });
    const err = expectRejection(() => validateSandbox(withPlatform({ host_users: true }), userNs), "PermissionDenied", `${PC}.host_users`);
    expect(err.message).toContain("no driver flag allows it");
    expect(() => validateSandbox(withPlatform({ host_users: false }), userNs)).not.toThrow();
    expect(() => validateSandbox(withPlatform({ host_users: false }), makeSettings())).not.toThrow();
    expect(() => validateSandbox(withPlatform({ host_users: true }), makeSettings())).not.toThrow();
  });
});

describe("every GPU kind is behind --gpu-support and the capacity check", () => {
  const kinds = ["nvidia.com/mig-1g.5gb", "nvidia.com/gpu.shared", "amd.com/gpu", "gpu.intel.com/i915"];

  test.each(kinds)("%s in the gateway's raw limits is refused with --gpu-support=false", (resource) => {
    const sandbox = withPlatform({ resources_raw: { limits: { [resource]: 1 } } });
    const err = expectRejection(() => validateSandbox(sandbox, makeSettings({ gpuSupport: false })), "FailedPrecondition", `${PC}.resources_raw.limits[${JSON.stringify(resource)}]`);
    expect(err.message).toContain("--gpu-support=false");
  });

  test.each(kinds)("%s in driver_config is refused with --gpu-support=false", (resource) => {
    const sandbox = withDriver({ containers: { agent: { resources: { limits: { [resource]: "2" }, requests: { [resource]: "2" } } } } });
    expectRejection(() => validateSandbox(sandbox, makeSettings({ gpuSupport: false })), "FailedPrecondition", `${DC}.containers.agent.resources.limits[${JSON.stringify(resource)}]`);
  });

  test.each(kinds)("%s becomes the GPU demand the capacity check counts", (resource) => {
    const v = validateSandbox(withPlatform({ resources_raw: { limits: { [resource]: 2 } } }), makeSettings());
    expect(v.gpu).toEqual({ resource, count: 2, field: `${PC}.resources_raw.limits[${JSON.stringify(resource)}]` });
    expect(v.gpuCount).toBe(0);
  });

  test("the typed GPU count stays upstream's nvidia.com/gpu demand", () => {
    const v = validateSandbox(makeSandbox({ spec: { resourceRequirements: { gpu: { count: 3 } } } }), makeSettings());
    expect(v.gpu).toEqual({ resource: "nvidia.com/gpu", count: 3, field: "sandbox.spec.resource_requirements.gpu" });
  });

  test("two GPU kinds in one sandbox are refused: no one node check could weigh them", () => {
    const sandbox = makeSandbox({
      spec: { resourceRequirements: { gpu: {} }, template: { platformConfig: { resources_raw: { limits: { "amd.com/gpu": 1 } } } } },
    });
    const err = expectRejection(() => validateSandbox(sandbox, makeSettings()), "InvalidArgument", "sandbox.spec.resource_requirements.gpu");
    expect(err.message).toContain("'amd.com/gpu' and 'nvidia.com/gpu'");
  });

  test("the capacity check counts the MIG slice asked for, not whole GPUs", () => {
    const node = (name: string, allocatable: Record<string, string>) => ({
      metadata: { name },
      status: { allocatable, conditions: [{ type: "Ready", status: "True" }] },
    });
    const kind = gpuKindOf({ resource: "nvidia.com/mig-1g.5gb", field: `${PC}.resources_raw.limits["nvidia.com/mig-1g.5gb"]` });
    const placement = { nodeSelector: {}, tolerations: [] };
    expect(() => checkGpuCapacity(2, [node("whole", { "nvidia.com/gpu": "8" })], [], placement, kind)).toThrow("no node reports nvidia.com/mig-1g.5gb");
    expect(() => checkGpuCapacity(2, [node("mig", { "nvidia.com/mig-1g.5gb": "7" })], [], placement, kind)).not.toThrow();
  });
});

describe("devices reach a sandbox only through the scheduler", () => {
  test.each([
    ["NVIDIA_VISIBLE_DEVICES", "spec", "sandbox.spec.environment"],
    ["AMD_VISIBLE_DEVICES", "template", "sandbox.spec.template.environment"],
  ])("%s in the request's environment is refused, whatever --gpu-support says", (name, where, path) => {
    const env = { [name]: "all" };
    const sandbox = where === "spec" ? makeSandbox({ spec: { environment: env } }) : makeSandbox({ spec: { template: { environment: env } } });
    for (const gpuSupport of [false, true]) {
      const err = expectRejection(() => validateSandbox(sandbox, makeSettings({ gpuSupport })), "PermissionDenied", `${path}["${name}"]`);
      expect(err.message).toContain("no driver flag allows it");
    }
  });

  test("CUDA_VISIBLE_DEVICES, which only filters inside the process, is accepted", () => {
    expect(() => validateSandbox(makeSandbox({ spec: { environment: { CUDA_VISIBLE_DEVICES: "0" } } }), makeSettings())).not.toThrow();
  });
});

describe("nothing is accepted that cannot run", () => {
  const nul: [string, () => ReturnType<typeof makeSandbox>, string][] = [
    ["a NUL in a spec env value", () => makeSandbox({ spec: { environment: { TOKEN: "a\u0000b" } } }), 'sandbox.spec.environment["TOKEN"]'],
    ["a NUL in a template env value", () => makeSandbox({ spec: { template: { environment: { MODE: "\u0000" } } } }), 'sandbox.spec.template.environment["MODE"]'],
    ["a lone surrogate in an env value", () => makeSandbox({ spec: { environment: { NAME: "x\uD800" } } }), 'sandbox.spec.environment["NAME"]'],
    ["a NUL in an annotation value", () => withPlatform({ annotations: { "example.com/a": "a\u0000" } }), `${PC}.annotations["example.com/a"]`],
    ["a NUL in a command argument", () => makeSandbox({ spec: { command: ["sh", "-c", "echo\u0000"] } }), "sandbox.spec.command[2]"],
  ];
  test.each(nul)("%s is INVALID_ARGUMENT naming the field, never the value", (_, sandbox, field) => {
    const err = expectRejection(() => validateSandbox(sandbox(), makeSettings()), "InvalidArgument", field);
    expect(err.message).not.toContain("\u0000");
  });

  const quantities: [string, string][] = [
    ["1e400", "larger than a Kubernetes resource quantity"],
    ["1e16", "larger than a Kubernetes resource quantity"],
    ["9000Pi", "larger than a Kubernetes resource quantity"],
    ["-1", "must not be negative"],
  ];
  test.each(quantities)("the quantity %s is refused at validation", (quantity, message) => {
    const sandbox = makeSandbox({ spec: { template: { resources: { memoryLimit: quantity } } } });
    const err = expectRejection(() => validateSandbox(sandbox, makeSettings()), "InvalidArgument", "sandbox.spec.template.resources.memory_limit");
    expect(err.message).toContain(message);
  });

  test("quantities up to int64 milli-units are accepted", () => {
    const sandbox = makeSandbox({ spec: { template: { resources: { memoryLimit: "9e15", cpuLimit: "64" } } } });
    expect(() => validateSandbox(sandbox, makeSettings())).not.toThrow();
  });
});
