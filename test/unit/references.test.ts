import { describe, expect, test } from "bun:test";
import type { RenderSettings } from "../../src/sandbox/settings";
import { clusterReferences, validateSandbox } from "../../src/sandbox";
import { makeSandbox, makeSettings as baseSettings, WIDENED_FOR_UPSTREAM_FIELDS } from "./fixtures";

/** These tests pin upstream's rendering of every scheduling field: the operator widened the policy to them. */
function makeSettings(overrides: Partial<RenderSettings> = {}): RenderSettings {
  return baseSettings({ requestPolicy: WIDENED_FOR_UPSTREAM_FIELDS, ...overrides });
}

function refsFor(template: Record<string, unknown>, runtimeClassName = "") {
  const settings = makeSettings({ runtimeClassName });
  const sandbox = makeSandbox({ spec: { template: { image: "busybox", ...template } } });
  return clusterReferences(validateSandbox(sandbox, settings), settings);
}

describe("objects a sandbox needs to exist", () => {
  test("a plain sandbox refers to nothing; the driver's default runtime class is named by its flag", () => {
    expect(refsFor({})).toEqual([]);
    expect(refsFor({}, "kata")).toEqual([{ kind: "RuntimeClass", name: "kata", field: "--runtime-class-name" }]);
  });

  test("the runtime class checked is the one rendering picks, named by the field it came from", () => {
    const refs = refsFor({ platformConfig: { runtime_class_name: "gvisor" }, driverConfig: { pod: { runtime_class_name: "kata" } } }, "runc");
    expect(refs).toEqual([{ kind: "RuntimeClass", name: "gvisor", field: "sandbox.spec.template.platform_config.runtime_class_name" }]);
  });

  test("priority classes and every mounted claim are listed with their field paths", () => {
    const refs = refsFor({
      driverConfig: {
        pod: { priority_class_name: "high" },
        volumes: [
          { name: "data", persistent_volume_claim: { claim_name: "team-data" } },
          { name: "cache", persistent_volume_claim: { claim_name: "team-cache" } },
        ],
      },
    });
    expect(refs).toEqual([
      { kind: "PriorityClass", name: "high", field: "sandbox.spec.template.driver_config.pod.priority_class_name" },
      { kind: "PersistentVolumeClaim", name: "team-data", field: "sandbox.spec.template.driver_config.volumes[0].persistent_volume_claim.claim_name" },
      { kind: "PersistentVolumeClaim", name: "team-cache", field: "sandbox.spec.template.driver_config.volumes[1].persistent_volume_claim.claim_name" },
    ]);
  });
});
