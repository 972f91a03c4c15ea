// What the OpenShell gateway forwards on purpose must pass validation and reach the pod as
// upstream's driver would put it there. The gateway checks only log_level's length (32 bytes) and
// hands it to the supervisor, which reads it as a tracing EnvFilter; it builds resources_raw from the
// public `resources` Struct minus string cpu/memory, so numbers and GPU limits arrive there.

import { describe, expect, test } from "bun:test";
import type { JsonObject } from "@bufbuild/protobuf";
import { renderSandbox, validateSandbox } from "../../src/sandbox";
import type { RenderSettings } from "../../src/sandbox/settings";
import { makeSandbox, makeSettings } from "./fixtures";

function render(sandbox: ReturnType<typeof makeSandbox>, settings: RenderSettings = makeSettings()) {
  const validated = validateSandbox(sandbox, settings);
  const agent = renderSandbox(validated, settings).spec.podTemplate.spec.containers[0];
  if (!agent) throw new Error("no agent container");
  return { validated, agent };
}

function withRawResources(resourcesRaw: JsonObject, typedGpuCount?: number) {
  const template = { platformConfig: { resources_raw: resourcesRaw } };
  if (typedGpuCount === undefined) return makeSandbox({ spec: { template } });
  return makeSandbox({ spec: { template, resourceRequirements: { gpu: { count: typedGpuCount } } } });
}

describe("log_level as the gateway forwards it", () => {
  test.each([
    ["a level word in upper case, which the supervisor reads case-insensitively", "WARN"],
    ["'off', which silences the supervisor", "off"],
    ["a verbosity digit, which tracing reads as a level", "4"],
    ["a global level plus a per-target directive", "info,openshell_sandbox=debug"],
    ["a directive for a nested module path", "openshell_sandbox::proxy=trace"],
    ["a directive scoped to a span", "[relay]=debug"],
    ["a directive list with an empty entry, which the filter skips", "info,,warn"],
  ])("%s is accepted and handed to the supervisor unchanged", (_, logLevel) => {
    const { agent } = render(makeSandbox({ spec: { logLevel } }));
    expect(agent.env?.find((e) => e.name === "OPENSHELL_LOG_LEVEL")?.value).toBe(logLevel);
  });

  test("a refused log level says which directive is wrong and what the supervisor understands", () => {
    expect(() => validateSandbox(makeSandbox({ spec: { logLevel: "info,warning" } }), makeSettings())).toThrow(
      "sandbox.spec.log_level: 'warning' is neither a level (trace, debug, info, warn, error, off, or 0-5, any case) nor a target=level directive",
    );
  });
});

describe("resources_raw as the gateway forwards it", () => {
  test("JSON numbers from the public resources Struct become the quantities Kubernetes would read", () => {
    const { agent } = render(
      withRawResources({
        requests: { cpu: 0.5, memory: 536870912 },
        limits: { cpu: 2, memory: 1073741824, "example.com/fpga": 1 },
      }),
    );
    expect(agent.resources).toEqual({
      requests: { cpu: "0.5", memory: "536870912" },
      limits: { cpu: "2", memory: "1073741824", "example.com/fpga": "1" },
    });
  });

  test("a number beyond what a Kubernetes quantity holds (1e21, written 1e+21) is refused, naming the raw entry", () => {
    expect(() => validateSandbox(withRawResources({ limits: { "ephemeral-storage": 1e21 } }), makeSettings())).toThrow(
      `sandbox.spec.template.platform_config.resources_raw.limits["ephemeral-storage"]: '1e+21' is larger than a Kubernetes resource quantity can be`,
    );
  });

  test("a large number still inside int64 milli-units is accepted as written", () => {
    const { agent } = render(withRawResources({ limits: { "ephemeral-storage": 1e15 } }));
    expect(agent.resources?.limits).toEqual({ "ephemeral-storage": "1000000000000000" });
  });

  test("a numeric raw request above its limit is refused, naming the raw entry", () => {
    const sandbox = withRawResources({ requests: { "ephemeral-storage": 4e9 }, limits: { "ephemeral-storage": "1G" } });
    expect(() => validateSandbox(sandbox, makeSettings())).toThrow(
      `sandbox.spec.template.platform_config.resources_raw.requests["ephemeral-storage"]: request '4000000000' exceeds the limit '1G'`,
    );
  });

  test("a raw GPU limit requests that many GPUs, like resource_requirements.gpu", () => {
    const { validated, agent } = render(withRawResources({ limits: { "nvidia.com/gpu": 2 } }));
    expect(validated.gpuCount).toBe(2);
    expect(agent.resources?.limits).toEqual({ "nvidia.com/gpu": "2" });
  });

  test("with both a raw GPU limit and resource_requirements.gpu, the typed count wins as upstream renders it", () => {
    const { validated, agent } = render(
      withRawResources({ limits: { "nvidia.com/gpu": "2" } }, 4),
    );
    expect(validated.gpuCount).toBe(4);
    expect(agent.resources?.limits).toEqual({ "nvidia.com/gpu": "4" });
  });

  test("a raw GPU limit of zero asks for no GPU, so GPU support being off does not matter", () => {
    const { validated } = render(withRawResources({ limits: { "nvidia.com/gpu": 0 } }), makeSettings({ gpuSupport: false }));
    expect(validated.gpuCount).toBe(0);
  });
});
