// Tenant tier: each request-policy hole of issue 15 tried as a gateway user would — through the
// compiled driver's socket, least-privileged, on the local control plane. With default flags each
// is refused by ValidateSandboxCreate and CreateSandbox alike, naming the field (and the flag that
// would allow it), and no Sandbox CR exists for it; with the operator's knobs set, the widened
// request is admitted and the CR carries exactly what was asked.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectClient } from "../support/clients";
import { driverKubeconfig, kubectl, kubectlJson } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { TEST_IMAGE, sandboxRequest, uniqueName } from "../support/requests";
import type { DriverSandbox } from "../../src/gen/compute_driver_pb";

const NS = "openshell-system";
const RUN = Date.now().toString(36);
const DEFAULT_GATEWAY = `tp-default-${RUN}`;
const WIDENED_GATEWAY = `tp-widened-${RUN}`;
const LOCKED_GATEWAY = `tp-locked-${RUN}`;
/** Cluster-scoped objects the widened driver admits; named for this helper and run. */
const RUNTIME_CLASS = `tenant-policy-rc-${RUN}`;
const PRIORITY_CLASS = `tenant-policy-pc-${RUN}`;

let defaults: DriverProcess;
let widened: DriverProcess;
let locked: DriverProcess;

beforeAll(async () => {
  kubectl(["apply", "-f", "-"], {
    input: JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      items: [
        { apiVersion: "node.k8s.io/v1", kind: "RuntimeClass", metadata: { name: RUNTIME_CLASS }, handler: "runc" },
        { apiVersion: "scheduling.k8s.io/v1", kind: "PriorityClass", metadata: { name: PRIORITY_CLASS }, value: 10 },
      ],
    }),
  });
  const kubeconfig = driverKubeconfig();
  [defaults, widened, locked] = await Promise.all([
    startDriver({ kubeconfig, gatewayId: DEFAULT_GATEWAY }),
    startDriver({
      kubeconfig,
      gatewayId: WIDENED_GATEWAY,
      args: [
        "--allowed-annotation-prefixes=sidecar.istio.io/userVolume,sidecar.istio.io/userVolumeMount,k8s.v1.cni.cncf.io/",
        "--allowed-label-prefixes=app.kubernetes.io/",
        `--allowed-runtime-classes=${RUNTIME_CLASS}`,
        `--allowed-priority-classes=${PRIORITY_CLASS}`,
        "--allowed-toleration-keys=node-role.kubernetes.io/control-plane,dedicated",
        "--allowed-node-selector-keys=kubernetes.io/hostname",
      ],
    }),
    startDriver({ kubeconfig, gatewayId: LOCKED_GATEWAY, args: ["--enable-user-namespaces", "--gpu-support=false"] }),
  ]);
});

afterAll(async () => {
  for (const gateway of [DEFAULT_GATEWAY, WIDENED_GATEWAY, LOCKED_GATEWAY]) {
    kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/gateway-id=${gateway}`, "--wait=false"], { allowFailure: true });
  }
  await Promise.all([defaults?.stop(), widened?.stop(), locked?.stop()]);
  kubectl(["delete", "runtimeclass", RUNTIME_CLASS, "--wait=false"], { allowFailure: true });
  kubectl(["delete", "priorityclass", PRIORITY_CLASS, "--wait=false"], { allowFailure: true });
});

function withTemplate(prefix: string, template: { labels?: Record<string, string>; platformConfig?: JsonObject; driverConfig?: JsonObject }): DriverSandbox {
  return sandboxRequest({ ...uniqueName(prefix), workspace: "tp", spec: { template: { image: TEST_IMAGE, ...template } } });
}

function withSpec(prefix: string, spec: { environment?: Record<string, string>; template?: { environment?: Record<string, string>; resources?: Record<string, string> } }): DriverSandbox {
  return sandboxRequest({ ...uniqueName(prefix), workspace: "tp", spec: { ...spec, template: { image: TEST_IMAGE, ...spec.template } } });
}

async function outcome(call: Promise<unknown>): Promise<{ code: Code | "OK"; message: string }> {
  try {
    await call;
    return { code: "OK", message: "" };
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: e.code, message: e.rawMessage };
  }
}

function crsFor(sandboxId: string): any[] {
  return kubectlJson<{ items: any[] }>(["get", "sandboxes.agents.x-k8s.io", "-A", "-l", `openshell.ai/sandbox-id=${sandboxId}`]).items;
}

/** Validate, then Create: both refuse with `code`, the same message starting with `field`, and no CR exists. */
async function expectRefused(driver: DriverProcess, sandbox: DriverSandbox, code: Code, field: string, flag?: string): Promise<void> {
  const client = connectClient(driver.socket);
  const validated = await outcome(client.validateSandboxCreate({ sandbox }));
  const created = await outcome(client.createSandbox({ sandbox }));
  expect({ sandbox: sandbox.name, validated: validated.code, created: created.code }).toEqual({ sandbox: sandbox.name, validated: code, created: code });
  expect(created.message).toBe(validated.message);
  expect(validated.message).toStartWith(`${field}: `);
  if (flag) expect(validated.message).toContain(flag);
  expect(crsFor(sandbox.id)).toEqual([]);
}

/** Validate and Create both OK; returns the CR's pod template as written. */
async function expectAdmitted(driver: DriverProcess, sandbox: DriverSandbox): Promise<any> {
  const client = connectClient(driver.socket);
  await client.validateSandboxCreate({ sandbox });
  await client.createSandbox({ sandbox });
  const [cr] = crsFor(sandbox.id);
  expect(cr).toBeDefined();
  return cr.spec.podTemplate;
}

const PC = "sandbox.spec.template.platform_config";
const DC = "sandbox.spec.template.driver_config";
const denied = Code.PermissionDenied;

describe("with default flags every request-policy hole is refused, by Validate and Create alike, and nothing is created", () => {
  const annotationAttacks: [string, Record<string, string>, string][] = [
    ["Istio userVolume + userVolumeMount mounting a hostPath", { "sidecar.istio.io/userVolume": '{"h":{"hostPath":{"path":"/"}}}', "sidecar.istio.io/userVolumeMount": '{"h":{"mountPath":"/host"}}' }, "sidecar.istio.io/userVolume"],
    ["Istio proxyImage running any image", { "sidecar.istio.io/proxyImage": "evil.example/proxy:1" }, "sidecar.istio.io/proxyImage"],
    ["a Multus network outside NetworkPolicy", { "k8s.v1.cni.cncf.io/networks": "host-net" }, "k8s.v1.cni.cncf.io/networks"],
    ["AppArmor unconfined for the root agent", { "container.apparmor.security.beta.kubernetes.io/agent": "unconfined" }, "container.apparmor.security.beta.kubernetes.io/agent"],
    ["a seccomp override", { "seccomp.security.alpha.kubernetes.io/pod": "unconfined" }, "seccomp.security.alpha.kubernetes.io/pod"],
    ["an OpenShift SCC pin", { "openshift.io/required-scc": "privileged" }, "openshift.io/required-scc"],
    ["a cluster-autoscaler key", { "cluster-autoscaler.kubernetes.io/safe-to-evict": "false" }, "cluster-autoscaler.kubernetes.io/safe-to-evict"],
    ["a Vault injection", { "vault.hashicorp.com/agent-inject": "true" }, "vault.hashicorp.com/agent-inject"],
    ["Kata kernel parameters", { "io.katacontainers.config.hypervisor.kernel_params": "init=/bin/sh" }, "io.katacontainers.config.hypervisor.kernel_params"],
    ["the gateway's sandbox-id annotation", { "openshell.io/sandbox-id": "someone-else" }, "openshell.io/sandbox-id"],
  ];
  test.each(annotationAttacks)("annotation: %s", async (_, annotations, key) => {
    const flag = key.startsWith("openshell.io/") ? "no driver flag allows it" : `--allowed-annotation-prefixes=${key}`;
    await expectRefused(defaults, withTemplate("ann", { platformConfig: { annotations } }), denied, `${PC}.annotations[${JSON.stringify(key)}]`, flag);
  });

  const labelAttacks: [string, string][] = [
    ["the chart's app.kubernetes.io/name (the gateway's old NetworkPolicy identity)", "app.kubernetes.io/name"],
    ["the chart's app.kubernetes.io/instance", "app.kubernetes.io/instance"],
    ["sidecar.istio.io/inject overriding --istio-inject", "sidecar.istio.io/inject"],
    ["the chart's own selector key openshell.ai/component", "openshell.ai/component"],
    ["the driver's managed-by label", "openshell.ai/managed-by"],
  ];
  test.each(labelAttacks)("label: %s", async (_, key) => {
    await expectRefused(defaults, withTemplate("lbl", { labels: { [key]: "openshell-driver-k8s" } }), denied, `sandbox.spec.template.labels[${JSON.stringify(key)}]`);
  });

  test("placement: a runtime class, a priority class, keyless/control-plane/NoExecute tolerations, a hostname selector", async () => {
    await expectRefused(defaults, withTemplate("rc", { platformConfig: { runtime_class_name: "runc" } }), denied, `${PC}.runtime_class_name`, "--allowed-runtime-classes=runc");
    await expectRefused(defaults, withTemplate("rc", { driverConfig: { pod: { runtime_class_name: "runc" } } }), denied, `${DC}.pod.runtime_class_name`);
    await expectRefused(defaults, withTemplate("pc", { driverConfig: { pod: { priority_class_name: "system-node-critical" } } }), denied, `${DC}.pod.priority_class_name`, "--allowed-priority-classes=system-node-critical");
    await expectRefused(defaults, withTemplate("tol", { platformConfig: { tolerations: [{ operator: "Exists" }] } }), denied, `${PC}.tolerations[0].operator`, "--allowed-toleration-keys=*");
    await expectRefused(
      defaults,
      withTemplate("tol", { driverConfig: { pod: { tolerations: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }] } } }),
      denied,
      `${DC}.pod.tolerations[0].key`,
      "--allowed-toleration-keys=node-role.kubernetes.io/control-plane",
    );
    await expectRefused(defaults, withTemplate("tol", { platformConfig: { tolerations: [{ key: "dedicated", operator: "Exists", effect: "NoExecute" }] } }), denied, `${PC}.tolerations[0].effect`);
    await expectRefused(defaults, withTemplate("ns", { platformConfig: { node_selector: { "kubernetes.io/hostname": "kwok-node-0" } } }), denied, `${PC}.node_selector["kubernetes.io/hostname"]`);
  });

  test("every GPU kind meets the capacity check of its own resource (no kwok node has a MIG slice or an AMD GPU)", async () => {
    for (const resource of ["nvidia.com/mig-1g.5gb", "nvidia.com/gpu.shared", "amd.com/gpu", "gpu.intel.com/i915"]) {
      const sandbox = withTemplate("gpu", { platformConfig: { resources_raw: { limits: { [resource]: 1 } } } });
      await expectRefused(defaults, sandbox, Code.FailedPrecondition, `${PC}.resources_raw.limits[${JSON.stringify(resource)}]`, `no node reports ${resource}`);
    }
  });

  test("values that could never run: NUL in env, 1e400, beyond int64 milli-units, negative", async () => {
    await expectRefused(defaults, withSpec("nul", { environment: { TOKEN: "a\u0000b" } }), Code.InvalidArgument, 'sandbox.spec.environment["TOKEN"]');
    await expectRefused(defaults, withSpec("nul", { template: { environment: { MODE: "\u0000" } } }), Code.InvalidArgument, 'sandbox.spec.template.environment["MODE"]');
    await expectRefused(defaults, withTemplate("nul", { platformConfig: { annotations: { "example.com/a": "x\u0000" } } }), Code.InvalidArgument, `${PC}.annotations["example.com/a"]`);
    await expectRefused(defaults, withSpec("q", { template: { resources: { memoryLimit: "1e400" } } }), Code.InvalidArgument, "sandbox.spec.template.resources.memory_limit");
    await expectRefused(defaults, withSpec("q", { template: { resources: { cpuLimit: "1e16" } } }), Code.InvalidArgument, "sandbox.spec.template.resources.cpu_limit");
    await expectRefused(defaults, withTemplate("q", { platformConfig: { resources_raw: { limits: { "ephemeral-storage": 1e21 } } } }), Code.InvalidArgument, `${PC}.resources_raw.limits["ephemeral-storage"]`);
    await expectRefused(defaults, withTemplate("q", { driverConfig: { containers: { agent: { resources: { requests: { memory: "-1Gi" } } } } } }), Code.InvalidArgument, `${DC}.containers.agent.resources.requests["memory"]`);
  });

  test("a tenant's own annotations, labels and ordinary placement are admitted unchanged", async () => {
    const sandbox = withTemplate("ok", {
      labels: { team: "ml", "example.com/project": "p1" },
      platformConfig: {
        annotations: { "example.com/cost-center": "42" },
        node_selector: { "topology.kubernetes.io/zone": "z1" },
        tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
      },
    });
    const pod = await expectAdmitted(defaults, sandbox);
    expect(pod.metadata.labels.team).toBe("ml");
    expect(pod.metadata.annotations["example.com/cost-center"]).toBe("42");
    expect(pod.spec.nodeSelector).toEqual({ "topology.kubernetes.io/zone": "z1" });
    expect(pod.spec.tolerations).toEqual([{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
  });
});

describe("with the operator's knobs set, exactly what they name is admitted, and the CR carries it as asked", () => {
  test("the opened annotations and labels reach the pod template; the driver's own keys stay closed", async () => {
    const annotations = {
      "sidecar.istio.io/userVolume": '{"data":{"emptyDir":{}}}',
      "sidecar.istio.io/userVolumeMount": '{"data":{"mountPath":"/data"}}',
      "k8s.v1.cni.cncf.io/networks": "tenant-net",
    };
    const pod = await expectAdmitted(widened, withTemplate("wide", { labels: { "app.kubernetes.io/part-of": "ml" }, platformConfig: { annotations } }));
    for (const [key, value] of Object.entries(annotations)) expect(pod.metadata.annotations[key]).toBe(value);
    expect(pod.metadata.labels["app.kubernetes.io/part-of"]).toBe("ml");
    // Not opened: a neighbour of an opened key, and the chart's selector key.
    await expectRefused(widened, withTemplate("wide", { platformConfig: { annotations: { "sidecar.istio.io/proxyImage": "x" } } }), denied, `${PC}.annotations["sidecar.istio.io/proxyImage"]`);
    await expectRefused(widened, withTemplate("wide", { labels: { "openshell.ai/component": "driver" } }), denied, 'sandbox.spec.template.labels["openshell.ai/component"]', "no driver flag allows it");
  });

  test("the allowed runtime class, priority class, tolerations and node selector are written as asked", async () => {
    const tolerations: JsonObject[] = [
      { key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" },
      { key: "dedicated", operator: "Equal", value: "tenants", effect: "NoExecute", tolerationSeconds: 60 },
    ];
    const pod = await expectAdmitted(
      widened,
      withTemplate("wide", {
        platformConfig: { runtime_class_name: RUNTIME_CLASS, tolerations, node_selector: { "kubernetes.io/hostname": "kwok-node-0" } },
        driverConfig: { pod: { priority_class_name: PRIORITY_CLASS } },
      }),
    );
    expect(pod.spec.runtimeClassName).toBe(RUNTIME_CLASS);
    expect(pod.spec.priorityClassName).toBe(PRIORITY_CLASS);
    expect(pod.spec.tolerations).toEqual(tolerations);
    expect(pod.spec.nodeSelector).toEqual({ "kubernetes.io/hostname": "kwok-node-0" });
    // Not in the operator's sets.
    await expectRefused(widened, withTemplate("wide", { driverConfig: { pod: { priority_class_name: "system-node-critical" } } }), denied, `${DC}.pod.priority_class_name`);
    await expectRefused(widened, withTemplate("wide", { platformConfig: { tolerations: [{ operator: "Exists" }] } }), denied, `${PC}.tolerations[0].operator`);
  });

  test("--enable-user-namespaces cannot be turned off by a request; --gpu-support=false covers every GPU kind", async () => {
    await expectRefused(locked, withTemplate("userns", { platformConfig: { host_users: true } }), denied, `${PC}.host_users`, "no driver flag allows it");
    const pod = await expectAdmitted(locked, withTemplate("userns", { platformConfig: { host_users: false } }));
    expect(pod.spec.hostUsers).toBe(false);
    for (const resource of ["nvidia.com/mig-1g.5gb", "nvidia.com/gpu.shared", "amd.com/gpu", "gpu.intel.com/i915"]) {
      await expectRefused(locked, withTemplate("gpu", { platformConfig: { resources_raw: { limits: { [resource]: 1 } } } }), Code.FailedPrecondition, `${PC}.resources_raw.limits[${JSON.stringify(resource)}]`, "--gpu-support=false");
      await expectRefused(
        locked,
        withTemplate("gpu", { driverConfig: { containers: { agent: { resources: { limits: { [resource]: "1" }, requests: { [resource]: "1" } } } } } }),
        Code.FailedPrecondition,
        `${DC}.containers.agent.resources.limits[${JSON.stringify(resource)}]`,
        "--gpu-support=false",
      );
    }
  });
});
