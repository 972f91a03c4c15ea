import { describe, expect, test } from "bun:test";
import { renderSandbox, validateSandbox } from "../../src/sandbox";
import type { RenderSettings } from "../../src/sandbox/settings";
import { expectRejection } from "./expect-rejection";
import { makeSandbox, makeSettings } from "./fixtures";

function mounting(mountPath: string) {
  return makeSandbox({
    spec: {
      template: {
        driverConfig: {
          containers: { agent: { volume_mounts: [{ name: "data", mount_path: mountPath }] } },
          volumes: [{ name: "data", persistent_volume_claim: { claim_name: "data" } }],
        },
      },
    },
  });
}

function render(sandbox = makeSandbox(), overrides: Partial<RenderSettings> = {}) {
  const settings = makeSettings(overrides);
  return renderSandbox(validateSandbox(sandbox, settings), settings);
}

describe("workspace persistence, as upstream's apply_workspace_persistence", () => {
  test("the claim template asks for the configured size and storage class", () => {
    const cr = render(makeSandbox(), { workspaceStorageSize: "10Gi", workspaceStorageClass: "fast-ssd" });
    expect(cr.spec.volumeClaimTemplates).toEqual([
      {
        metadata: { name: "workspace" },
        spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "10Gi" } }, storageClassName: "fast-ssd" },
      },
    ]);
  });

  test("without a storage class the claim leaves it to the cluster default", () => {
    expect(JSON.stringify(render().spec.volumeClaimTemplates)).not.toContain("storageClassName");
  });

  test("the pod does not declare the claim's volume itself: the controller adds it from the template", () => {
    expect(render().spec.podTemplate.spec.volumes?.map((v) => v.name)).not.toContain("workspace");
  });

  test("the seed runs the agent image with the agent's pull policy, after the supervisor install", () => {
    const init = render(makeSandbox({ spec: { template: { image: "python:3.12" } } }), { imagePullPolicy: "Always" }).spec.podTemplate
      .spec.initContainers;
    expect(init?.map((c) => c.name)).toEqual(["openshell-supervisor-install", "workspace-init"]);
    expect(init?.[1]).toMatchObject({
      image: "python:3.12",
      imagePullPolicy: "Always",
      securityContext: { runAsUser: 0 },
      volumeMounts: [{ name: "workspace", mountPath: "/workspace-pvc" }],
    });
  });

  test("the seed copies the image's /sandbox into the claim only once, guarded by a sentinel file", () => {
    const script = render().spec.podTemplate.spec.initContainers?.[1]?.command?.[2] ?? "";
    expect(script.startsWith("if [ ! -f /workspace-pvc/.workspace-initialized ]; then")).toBe(true);
    expect(script).toContain("tar -C /workspace-pvc --no-same-owner --no-same-permissions --touch -xf");
    expect(script.endsWith("touch /workspace-pvc/.workspace-initialized; fi")).toBe(true);
  });

  test.each(["/sandbox/data", "/sandbox/a/b"])("a user mount at %p takes over the workspace", (path) => {
    const cr = render(mounting(path));
    expect(cr.spec.volumeClaimTemplates).toBeUndefined();
    expect(cr.spec.podTemplate.spec.securityContext).toBeUndefined();
    expect(cr.spec.podTemplate.spec.initContainers?.map((c) => c.name)).toEqual(["openshell-supervisor-install"]);
  });

  test.each(["/data", "/sandboxes", "/srv/sandbox"])("a user mount at %p leaves the workspace to the driver", (path) => {
    const cr = render(mounting(path));
    expect(cr.spec.volumeClaimTemplates).toHaveLength(1);
    expect(cr.spec.podTemplate.spec.containers[0]?.volumeMounts?.at(-1)).toEqual({ name: "workspace", mountPath: "/sandbox" });
  });

  test.each(["/sandbox", "/"])("a user mount replacing the workspace at %p is refused, as upstream's validate_workspace_mount_target", (path) => {
    const settings = makeSettings();
    expectRejection(
      () => validateSandbox(mounting(path), settings),
      "InvalidArgument",
      "sandbox.spec.template.driver_config.containers.agent.volume_mounts[0].mount_path",
    );
  });
});
