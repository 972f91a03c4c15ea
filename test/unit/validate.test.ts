import { describe, expect, test } from "bun:test";
import type { JsonObject } from "@bufbuild/protobuf";
import type { DriverSandbox } from "../../src/gen/compute_driver_pb";
import { type SandboxRequestErrorCode, validateSandbox } from "../../src/sandbox";
import type { RenderSettings } from "../../src/sandbox/settings";
import { expectRejection } from "./expect-rejection";
import { makeSandbox, makeSettings, NO_WIDENING } from "./fixtures";

type SpecInit = NonNullable<Parameters<typeof makeSandbox>[0]>["spec"];

const SECRET_VALUE = "hunter2-env-value";
const SECRET_TOKEN = "eyJhbGciOi-sandbox-token";

/** A request carrying secrets everywhere they may appear, so every rejection also proves they stay out of the message. */
function request(spec: SpecInit = {}, identity: { id?: string; name?: string; workspace?: string } = {}): DriverSandbox {
  const sandbox = makeSandbox({ ...identity, spec });
  const s = sandbox.spec;
  if (s) {
    s.sandboxToken = SECRET_TOKEN;
    for (const name of Object.keys(s.environment)) s.environment[name] = SECRET_VALUE;
    s.environment.API_KEY = SECRET_VALUE;
    if (s.template) {
      for (const name of Object.keys(s.template.environment)) s.template.environment[name] = SECRET_VALUE;
      s.template.environment.TEMPLATE_TOKEN = SECRET_VALUE;
    }
  }
  return sandbox;
}

function withTemplate(template: Extract<NonNullable<SpecInit>, { $typeName?: undefined }>["template"]): DriverSandbox {
  return request({ template });
}

type Case = [string, () => DriverSandbox, SandboxRequestErrorCode, string, Partial<RenderSettings>?];

const cases: Case[] = [
  ["an empty sandbox id", () => request({}, { id: "" }), "InvalidArgument", "sandbox.id"],
  ["a sandbox id that is not a label value", () => request({}, { id: "sb/1" }), "InvalidArgument", "sandbox.id"],
  ["a sandbox id that would add a term to a label selector", () => request({}, { id: "a,openshell.ai/sandbox-name" }), "InvalidArgument", "sandbox.id"],
  ["a sandbox id longer than 63 characters", () => request({}, { id: "a".repeat(64) }), "InvalidArgument", "sandbox.id"],
  ["an empty sandbox name", () => request({}, { name: "" }), "InvalidArgument", "sandbox.name"],
  ["an uppercase sandbox name", () => request({}, { name: "Demo" }), "InvalidArgument", "sandbox.name"],
  ["a sandbox name with an underscore", () => request({}, { name: "my_box" }), "InvalidArgument", "sandbox.name"],
  ["an empty workspace", () => request({}, { workspace: "" }), "InvalidArgument", "sandbox.workspace"],
  ["a workspace starting with a dash", () => request({}, { workspace: "-team" }), "InvalidArgument", "sandbox.workspace"],
  ["a missing spec", () => { const s = request(); s.spec = undefined; return s; }, "InvalidArgument", "sandbox.spec"],
  ["an image with an uppercase repository", () => withTemplate({ image: "Library/Ubuntu" }), "InvalidArgument", "sandbox.spec.template.image"],
  ["an image with an empty tag", () => withTemplate({ image: "ubuntu:" }), "InvalidArgument", "sandbox.spec.template.image"],
  ["an image with a short digest", () => withTemplate({ image: "ubuntu@sha256:abc" }), "InvalidArgument", "sandbox.spec.template.image"],
  ["an image with a 129-character tag", () => withTemplate({ image: `ubuntu:${"t".repeat(129)}` }), "InvalidArgument", "sandbox.spec.template.image"],
  ["an invalid default image", () => request(), "FailedPrecondition", "sandbox.spec.template.image", { defaultImage: "Not Valid" }],
  ["a spec env name starting with a digit", () => request({ environment: { "1BAD": "x" } }), "InvalidArgument", 'sandbox.spec.environment["1BAD"]'],
  ["a spec env name with a dash", () => request({ environment: { "MY-VAR": "x" } }), "InvalidArgument", 'sandbox.spec.environment["MY-VAR"]'],
  ["a spec env name with '='", () => request({ environment: { "A=B": "x" } }), "InvalidArgument", 'sandbox.spec.environment["A=B"]'],
  ["an empty template env name", () => withTemplate({ environment: { "": "x" } }), "InvalidArgument", 'sandbox.spec.template.environment[""]'],
  ["a label with the reserved openshell.ai/ prefix", () => withTemplate({ labels: { "openshell.ai/sandbox-id": "x" } }), "PermissionDenied", 'sandbox.spec.template.labels["openshell.ai/sandbox-id"]'],
  ["a label with the controller's agents.x-k8s.io/ prefix", () => withTemplate({ labels: { "agents.x-k8s.io/sandbox-name-hash": "x" } }), "PermissionDenied", 'sandbox.spec.template.labels["agents.x-k8s.io/sandbox-name-hash"]'],
  ["a label key that is not a qualified name", () => withTemplate({ labels: { "-team": "x" } }), "InvalidArgument", 'sandbox.spec.template.labels["-team"]'],
  ["a label value with a space", () => withTemplate({ labels: { team: "ml ops" } }), "InvalidArgument", 'sandbox.spec.template.labels["team"]'],
  ["a label value of 64 characters", () => withTemplate({ labels: { team: "a".repeat(64) } }), "InvalidArgument", 'sandbox.spec.template.labels["team"]'],
  ["a cpu limit that is not a quantity", () => withTemplate({ resources: { cpuLimit: "two" } }), "InvalidArgument", "sandbox.spec.template.resources.cpu_limit"],
  ["a memory request in 'GB'", () => withTemplate({ resources: { memoryRequest: "1GB" } }), "InvalidArgument", "sandbox.spec.template.resources.memory_request"],
  ["a negative cpu request", () => withTemplate({ resources: { cpuRequest: "-1" } }), "InvalidArgument", "sandbox.spec.template.resources.cpu_request"],
  ["a cpu request above the cpu limit", () => withTemplate({ resources: { cpuRequest: "2", cpuLimit: "1500m" } }), "InvalidArgument", "sandbox.spec.template.resources.cpu_request"],
  ["a memory request above the memory limit", () => withTemplate({ resources: { memoryRequest: "2Gi", memoryLimit: "1Gi" } }), "InvalidArgument", "sandbox.spec.template.resources.memory_request"],
  ["a GPU count of zero", () => request({ resourceRequirements: { gpu: { count: 0 } } }), "InvalidArgument", "sandbox.spec.resource_requirements.gpu.count"],
  ["a GPU request when GPU support is off", () => request({ resourceRequirements: { gpu: {} } }), "FailedPrecondition", "sandbox.spec.resource_requirements.gpu", { gpuSupport: false }],
  ["an unknown log level", () => request({ logLevel: "verbose" }), "InvalidArgument", "sandbox.spec.log_level"],
  ["the log level 'warning', which the supervisor's filter would drop", () => request({ logLevel: "warning" }), "InvalidArgument", "sandbox.spec.log_level"],
  ["a log directive with an unknown level", () => request({ logLevel: "info,openshell_sandbox=loud" }), "InvalidArgument", "sandbox.spec.log_level"],
  ["a log level with a space", () => request({ logLevel: "info, debug" }), "InvalidArgument", "sandbox.spec.log_level"],
  ["a log level of only commas", () => request({ logLevel: ",," }), "InvalidArgument", "sandbox.spec.log_level"],
  ["a log level over the gateway's 32 bytes", () => request({ logLevel: `info,${"a".repeat(27)}=debug` }), "InvalidArgument", "sandbox.spec.log_level"],
  ["an empty command argument", () => request({ command: ["python", ""] }), "InvalidArgument", "sandbox.spec.command[1]"],
  ["a relative agent socket path", () => withTemplate({ agentSocketPath: "run/agent.sock" }), "InvalidArgument", "sandbox.spec.template.agent_socket_path"],
  ["an agent socket path with '..'", () => withTemplate({ agentSocketPath: "/run/../agent.sock" }), "InvalidArgument", "sandbox.spec.template.agent_socket_path"],
  ["an agent socket path with a newline", () => withTemplate({ agentSocketPath: "/run/agent.sock\n" }), "InvalidArgument", "sandbox.spec.template.agent_socket_path"],
  ["a driver_config request above its limit", () => withTemplate({ driverConfig: { containers: { agent: { resources: { requests: { memory: "8Gi" }, limits: { memory: "1Gi" } } } } } }), "InvalidArgument", 'sandbox.spec.template.driver_config.containers.agent.resources.requests["memory"]'],
  ["a raw platform request above a typed limit", () => withTemplate({ resources: { cpuRequest: "4" }, driverConfig: { containers: { agent: { resources: { limits: { cpu: "1" } } } } } }), "InvalidArgument", "sandbox.spec.template.resources.cpu_request"],
  ["an unknown platform_config key", () => withTemplate({ platformConfig: { volumeClaimTemplates: [] } }), "InvalidArgument", "sandbox.spec.template.platform_config.volumeClaimTemplates"],
  ["a non-string platform runtime class", () => withTemplate({ platformConfig: { runtime_class_name: 5 } }), "InvalidArgument", "sandbox.spec.template.platform_config.runtime_class_name"],
  ["an invalid platform runtime class", () => withTemplate({ platformConfig: { runtime_class_name: "Kata_VM" } }), "InvalidArgument", "sandbox.spec.template.platform_config.runtime_class_name"],
  ["an annotation key with a space", () => withTemplate({ platformConfig: { annotations: { "bad key": "x" } } }), "InvalidArgument", 'sandbox.spec.template.platform_config.annotations["bad key"]'],
  ["a non-string annotation value", () => withTemplate({ platformConfig: { annotations: { "example.com/n": 1 } } }), "InvalidArgument", 'sandbox.spec.template.platform_config.annotations["example.com/n"]'],
  ["annotations over 256 KiB", () => withTemplate({ platformConfig: { annotations: { big: "x".repeat(262_144) } } }), "InvalidArgument", "sandbox.spec.template.platform_config.annotations"],
  ["host_users given as a string", () => withTemplate({ platformConfig: { host_users: "false" } }), "InvalidArgument", "sandbox.spec.template.platform_config.host_users"],
  ["a platform node selector value that is not a label value", () => withTemplate({ platformConfig: { node_selector: { pool: "a b" } } }), "InvalidArgument", 'sandbox.spec.template.platform_config.node_selector["pool"]'],
  ["a platform toleration with an unknown operator", () => withTemplate({ platformConfig: { tolerations: [{ key: "k", operator: "In" }] } }), "InvalidArgument", "sandbox.spec.template.platform_config.tolerations[0].operator"],
  ["resource claims in resources_raw, which Kubernetes refuses without pod resourceClaims", () => withTemplate({ platformConfig: { resources_raw: { claims: [{ name: "gpu" }] } } }), "InvalidArgument", "sandbox.spec.template.platform_config.resources_raw.claims"],
  ["an unknown section in resources_raw", () => withTemplate({ platformConfig: { resources_raw: { limit: { cpu: "1" } } } }), "InvalidArgument", "sandbox.spec.template.platform_config.resources_raw.limit"],
  ["a raw resource quantity that does not parse", () => withTemplate({ platformConfig: { resources_raw: { requests: { cpu: "lots" } } } }), "InvalidArgument", 'sandbox.spec.template.platform_config.resources_raw.requests["cpu"]'],
  ["a raw resource quantity given as a boolean", () => withTemplate({ platformConfig: { resources_raw: { limits: { cpu: true } } } }), "InvalidArgument", 'sandbox.spec.template.platform_config.resources_raw.limits["cpu"]'],
  ["a raw resource quantity given as an object", () => withTemplate({ platformConfig: { resources_raw: { limits: { memory: { value: 1 } } } } }), "InvalidArgument", 'sandbox.spec.template.platform_config.resources_raw.limits["memory"]'],
  ["a negative raw numeric quantity", () => withTemplate({ platformConfig: { resources_raw: { requests: { cpu: -1 } } } }), "InvalidArgument", 'sandbox.spec.template.platform_config.resources_raw.requests["cpu"]'],
  ["a fractional raw number for an extended resource", () => withTemplate({ platformConfig: { resources_raw: { limits: { "example.com/fpga": 1.5 } } } }), "InvalidArgument", 'sandbox.spec.template.platform_config.resources_raw.limits["example.com/fpga"]'],
  ["a raw resource name Kubernetes does not know", () => withTemplate({ platformConfig: { resources_raw: { limits: { gpu: 1 } } } }), "InvalidArgument", 'sandbox.spec.template.platform_config.resources_raw.limits["gpu"]'],
  ["a raw GPU limit when GPU support is off", () => withTemplate({ platformConfig: { resources_raw: { limits: { "nvidia.com/gpu": 1 } } } }), "FailedPrecondition", 'sandbox.spec.template.platform_config.resources_raw.limits["nvidia.com/gpu"]', { gpuSupport: false }],
  ["a raw GPU limit of half a GPU", () => withTemplate({ platformConfig: { resources_raw: { limits: { "nvidia.com/gpu": "500m" } } } }), "InvalidArgument", 'sandbox.spec.template.platform_config.resources_raw.limits["nvidia.com/gpu"]'],
  ["a raw GPU request without a GPU limit", () => withTemplate({ platformConfig: { resources_raw: { requests: { "nvidia.com/gpu": 1 } } } }), "InvalidArgument", 'sandbox.spec.template.platform_config.resources_raw.requests["nvidia.com/gpu"]'],
];

describe("validateSandbox rejects", () => {
  // Every row padded to five elements: bun treats a callback with more parameters than row
  // elements as taking a `done` callback.
  const rows = cases.map(([title, build, code, field, settings]) => [title, build, code, field, settings ?? {}] as const);
  test.each(rows)("%s", (_, build, code, field, settings) => {
    const err = expectRejection(() => validateSandbox(build(), makeSettings(settings)), code, field);
    expect(err.message).not.toContain(SECRET_VALUE);
    expect(err.message).not.toContain(SECRET_TOKEN);
  });
});

describe("validateSandbox", () => {
  test("a request without an image and without a default image names the missing field", () => {
    const err = expectRejection(
      () => validateSandbox(request(), makeSettings({ defaultImage: "" })),
      "InvalidArgument",
      "sandbox.spec.template.image",
    );
    expect(err.message).toBe("sandbox.spec.template.image: required (no default image configured)");
  });

  test("a too-long combined name reports the name and its length", () => {
    const sandbox = request({}, { workspace: "w".repeat(40), name: "n".repeat(22) });
    const err = expectRejection(() => validateSandbox(sandbox, makeSettings()), "InvalidArgument", "sandbox.name");
    expect(err.message).toContain(`'${"w".repeat(40)}--${"n".repeat(22)}' is 64 characters`);
  });

  test("a combined name of exactly 63 characters is accepted", () => {
    const v = validateSandbox(request({}, { workspace: "w".repeat(40), name: "n".repeat(21) }), makeSettings());
    expect(v.kubeName).toHaveLength(63);
  });

  test("GPU support disabled is reported with the flag that turns it on", () => {
    const err = expectRejection(
      () => validateSandbox(request({ resourceRequirements: { gpu: { count: 1 } } }), makeSettings({ gpuSupport: false })),
      "FailedPrecondition",
      "sandbox.spec.resource_requirements.gpu",
    );
    expect(err.message).toBe(
      "sandbox.spec.resource_requirements.gpu: GPU support is disabled on this driver (--gpu-support=false)",
    );
  });

  test("a valid request returns the kube name, the effective image and the GPU count", () => {
    const v = validateSandbox(
      request({ logLevel: "DEBUG", resourceRequirements: { gpu: { count: 2 } }, template: { image: "python:3.12-slim" } }),
      makeSettings(),
    );
    expect({ kubeName: v.kubeName, image: v.image, gpuCount: v.gpuCount }).toEqual({
      kubeName: "alice--demo",
      image: "python:3.12-slim",
      gpuCount: 2,
    });
  });

  test("no GPU request means a GPU count of zero", () => {
    expect(validateSandbox(request(), makeSettings()).gpuCount).toBe(0);
  });

  test("the default image is used when the request leaves it empty", () => {
    expect(validateSandbox(request(), makeSettings({ defaultImage: "busybox" })).image).toBe("busybox");
  });

  test("platform_config fields are parsed into typed settings", () => {
    const platformConfig: JsonObject = {
      runtime_class_name: "gvisor",
      annotations: { "example.com/a": "1" },
      host_users: false,
      tolerations: [{ operator: "Exists" }],
      resources_raw: { requests: { "example.com/fpga": "1" }, limits: { "example.com/fpga": "1" } },
    };
    const widened = { ...NO_WIDENING, allowedRuntimeClasses: ["gvisor"], allowedTolerationKeys: ["*"] };
    const v = validateSandbox(withTemplate({ platformConfig }), makeSettings({ requestPolicy: widened }));
    expect(v.platformConfig).toEqual({
      runtimeClassName: "gvisor",
      annotations: { "example.com/a": "1" },
      nodeSelector: {},
      tolerations: [{ operator: "Exists" }],
      hostUsers: false,
      resourcesRaw: { requests: { "example.com/fpga": "1" }, limits: { "example.com/fpga": "1" } },
    });
  });

  test.each([
    [{ limits: { gpu: "1" } }, "not a container resource"],
    [{ limits: { "kubernetes.io/foo": "1" } }, "kubernetes.io resource namespace is reserved"],
    [{ limits: { "example.com/foo": "500m" } }, "must be a whole number"],
    [{ requests: { "example.com/foo": "1" } }, "needs a limit equal to its request"],
    [{ requests: { "example.com/foo": "1" }, limits: { "example.com/foo": "2" } }, "must equal the limit"],
    [{ limits: { "hugepages-2Mi": "100Mi" } }, "need a cpu or memory request or limit"],
  ])("driver_config agent resources %p that the API server would refuse are rejected up front (%s)", (resources, message) => {
    let error: unknown;
    try {
      validateSandbox(withTemplate({ driverConfig: { containers: { agent: { resources } } } }), makeSettings());
    } catch (err) {
      error = err;
    }
    expect((error as Error)?.message).toContain(message);
    expect((error as Error).message).toStartWith("sandbox.spec.template.");
  });
});
