import { describe, expect, test } from "bun:test";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { parseDriverConfig, validateSandbox } from "../../src/sandbox";
import type { RenderSettings } from "../../src/sandbox/settings";
import { expectRejection } from "./expect-rejection";
import { makeSandbox, makeSettings, NO_WIDENING } from "./fixtures";

const ROOT = "sandbox.spec.template.driver_config";
const PVC = { name: "data", persistent_volume_claim: { claim_name: "data-pvc" } };

function validate(driverConfig: JsonObject, settings: Partial<RenderSettings> = {}) {
  return validateSandbox(makeSandbox({ spec: { template: { driverConfig } } }), makeSettings(settings));
}

/** A config with one read-only PVC `data` and the given mounts. */
function mounting(...mounts: JsonValue[]): JsonObject {
  return { volumes: [PVC], containers: { agent: { volume_mounts: mounts } } };
}

function mountAt(path: string): JsonObject {
  return mounting({ name: "data", mount_path: path });
}

const MOUNT0 = `${ROOT}.containers.agent.volume_mounts[0]`;
const TOL0 = `${ROOT}.pod.tolerations[0]`;

const rejected: [string, JsonObject, string][] = [
  ["an unknown top-level key (such as the outer driver name)", { kubernetes: {} }, `${ROOT}.kubernetes`],
  ["a camelCase pod key", { pod: { nodeSelector: {} } }, `${ROOT}.pod.nodeSelector`],
  ["a pod that is not an object", { pod: [] }, `${ROOT}.pod`],
  ["a node selector value that is a number", { pod: { node_selector: { zone: 1 } } }, `${ROOT}.pod.node_selector["zone"]`],
  ["a node selector key that is not a label key", { pod: { node_selector: { "a/b/c": "x" } } }, `${ROOT}.pod.node_selector["a/b/c"]`],
  ["tolerations that are not an array", { pod: { tolerations: { key: "k" } } }, `${ROOT}.pod.tolerations`],
  ["a toleration with an unknown key", { pod: { tolerations: [{ key: "k", opertor: "Exists" }] } }, `${TOL0}.opertor`],
  ["a toleration operator other than Exists or Equal", { pod: { tolerations: [{ key: "k", operator: "In" }] } }, `${TOL0}.operator`],
  ["a toleration effect that does not exist", { pod: { tolerations: [{ key: "k", effect: "Sometimes" }] } }, `${TOL0}.effect`],
  ["an Exists toleration with a value", { pod: { tolerations: [{ key: "k", operator: "Exists", value: "v" }] } }, `${TOL0}.value`],
  ["a toleration without a key that is not Exists", { pod: { tolerations: [{ operator: "Equal", value: "v" }] } }, `${TOL0}.operator`],
  ["tolerationSeconds without NoExecute", { pod: { tolerations: [{ key: "k", tolerationSeconds: 30 }] } }, `${TOL0}.tolerationSeconds`],
  ["a fractional toleration_seconds", { pod: { tolerations: [{ key: "k", effect: "NoExecute", toleration_seconds: 1.5 }] } }, `${TOL0}.toleration_seconds`],
  ["both spellings of toleration seconds", { pod: { tolerations: [{ key: "k", effect: "NoExecute", tolerationSeconds: 1, toleration_seconds: 1 }] } }, `${TOL0}.toleration_seconds`],
  ["a runtime class that is not a DNS-1123 subdomain", { pod: { runtime_class_name: "Kata!" } }, `${ROOT}.pod.runtime_class_name`],
  ["a priority class given as a number", { pod: { priority_class_name: 1000 } }, `${ROOT}.pod.priority_class_name`],
  ["a container other than agent", { containers: { sidecar: {} } }, `${ROOT}.containers.sidecar`],
  ["an unknown agent resources key", { containers: { agent: { resources: { claims: [] } } } }, `${ROOT}.containers.agent.resources.claims`],
  ["a limit that is not a quantity", { containers: { agent: { resources: { limits: { cpu: "x" } } } } }, `${ROOT}.containers.agent.resources.limits["cpu"]`],
  ["a GPU limit outside the GPU request", { containers: { agent: { resources: { limits: { "nvidia.com/gpu": "1" } } } } }, `${ROOT}.containers.agent.resources.limits["nvidia.com/gpu"]`],
  ["volumes that are not an array", { volumes: {} }, `${ROOT}.volumes`],
  ["a volume name that is not a DNS-1123 label", { volumes: [PVC, { name: "Data", persistent_volume_claim: { claim_name: "c" } }] }, `${ROOT}.volumes[1].name`],
  ["the reserved volume name workspace", { volumes: [{ name: "workspace", persistent_volume_claim: { claim_name: "c" } }] }, `${ROOT}.volumes[0].name`],
  ["the reserved volume name openshell-sa-token", { volumes: [{ name: "openshell-sa-token", persistent_volume_claim: { claim_name: "c" } }] }, `${ROOT}.volumes[0].name`],
  ["the sidecar volume name openshell-sidecar-state", { volumes: [{ name: "openshell-sidecar-state", persistent_volume_claim: { claim_name: "c" } }] }, `${ROOT}.volumes[0].name`],
  ["the sidecar volume name openshell-supervisor-tls", { volumes: [{ name: "openshell-supervisor-tls", persistent_volume_claim: { claim_name: "c" } }] }, `${ROOT}.volumes[0].name`],
  ["a duplicate volume name", { volumes: [PVC, PVC] }, `${ROOT}.volumes[1].name`],
  ["a volume without a PVC source", { volumes: [{ name: "data" }] }, `${ROOT}.volumes[0].persistent_volume_claim`],
  ["a hostPath volume", { volumes: [{ name: "data", hostPath: { path: "/" } }] }, `${ROOT}.volumes[0].hostPath`],
  ["a claim name that is not a DNS-1123 subdomain", { volumes: [{ name: "data", persistent_volume_claim: { claim_name: "Data_PVC" } }] }, `${ROOT}.volumes[0].persistent_volume_claim.claim_name`],
  ["an unknown PVC key", { volumes: [{ name: "data", persistent_volume_claim: { claim_name: "c", storage_class: "x" } }] }, `${ROOT}.volumes[0].persistent_volume_claim.storage_class`],
  ["read_only given as a string", { volumes: [{ name: "data", persistent_volume_claim: { claim_name: "c", read_only: "yes" } }] }, `${ROOT}.volumes[0].persistent_volume_claim.read_only`],
  ["volume_mounts that are not an array", { containers: { agent: { volume_mounts: "data:/data" } } }, `${ROOT}.containers.agent.volume_mounts`],
  ["a mount of an undeclared volume", mounting({ name: "other", mount_path: "/data" }), `${MOUNT0}.name`],
  ["a writable mount of a read-only PVC", mounting({ name: "data", mount_path: "/data", read_only: false }), `${MOUNT0}.read_only`],
  ["a mount without a path", mounting({ name: "data" }), `${MOUNT0}.mount_path`],
  ["an unknown mount key", mounting({ name: "data", mount_path: "/data", mountPath: "/x" }), `${MOUNT0}.mountPath`],
  ["a duplicate mount target", mounting({ name: "data", mount_path: "/data" }, { name: "data", mount_path: "/data" }), `${ROOT}.containers.agent.volume_mounts[1].mount_path`],
  ["a sub_path with '..'", mounting({ name: "data", mount_path: "/data", sub_path: "a/../../etc" }), `${MOUNT0}.sub_path`],
  ["an absolute sub_path", mounting({ name: "data", mount_path: "/data", sub_path: "/etc" }), `${MOUNT0}.sub_path`],
  ["an empty sub_path", mounting({ name: "data", mount_path: "/data", sub_path: "" }), `${MOUNT0}.sub_path`],
  ["a sub_path with whitespace", mounting({ name: "data", mount_path: "/data", sub_path: "my dir" }), `${MOUNT0}.sub_path`],
];

const badMountPaths = [
  "data",
  "/",
  " /data",
  "/data\n",
  "/data/",
  "/data//x",
  "/data/./x",
  "/data/../etc",
  "/opt",
  "/opt/openshell",
  "/opt/openshell/bin/x",
  "/etc",
  "/etc/openshell",
  "/etc/openshell-tls/client",
  "/run/openshell",
  "/run/openshell-sidecar",
  "/run/netns",
  "/var/run/netns",
  "/var/run",
  "/var/run/secrets/openshell",
  "/var/run/secrets/openshell/token",
  "/sandbox",
];

describe("driver_config rejects", () => {
  test.each(rejected)("%s", (_, config, field) => {
    expectRejection(() => validate(config), "InvalidArgument", field);
  });

  test.each(badMountPaths)("the mount path %p", (path) => {
    expectRejection(() => validate(mountAt(path)), "InvalidArgument", `${MOUNT0}.mount_path`);
  });

  test("a mount over the configured supervisor mount path", () => {
    const err = expectRejection(
      () => validate(mountAt("/tools/supervisor/extra"), { supervisorMountPath: "/tools/supervisor/" }),
      "InvalidArgument",
      `${MOUNT0}.mount_path`,
    );
    expect(err.message).toContain("conflicts with reserved OpenShell path '/tools/supervisor'");
  });
});

describe("driver_config", () => {
  test("an absent driver_config means no extra scheduling, resources or volumes", () => {
    expect(parseDriverConfig(undefined, makeSettings())).toEqual({
      pod: { nodeSelector: {}, tolerations: [] },
      agent: { requests: {}, limits: {}, volumeMounts: [] },
      volumes: [],
    });
  });

  test.each(["/data", "/sandbox/cache", "/home/agent/.cache", "/optional"])("the mount path %p is allowed", (path) => {
    expect(validate(mountAt(path)).driverConfig.agent.volumeMounts[0]?.mountPath).toBe(path);
  });

  test("PVCs and mounts are read-only unless both say otherwise", () => {
    const config: JsonObject = {
      volumes: [PVC, { name: "rw", persistent_volume_claim: { claim_name: "rw-pvc", read_only: false } }],
      containers: {
        agent: {
          volume_mounts: [
            { name: "data", mount_path: "/data" },
            { name: "rw", mount_path: "/rw", read_only: false, sub_path: "a/b" },
            { name: "rw", mount_path: "/rw-view" },
          ],
        },
      },
    };
    const dc = validate(config).driverConfig;
    expect(dc.volumes).toEqual([
      { name: "data", claimName: "data-pvc", readOnly: true },
      { name: "rw", claimName: "rw-pvc", readOnly: false },
    ]);
    expect(dc.agent.volumeMounts).toEqual([
      { name: "data", mountPath: "/data", readOnly: true },
      { name: "rw", mountPath: "/rw", readOnly: false, subPath: "a/b" },
      { name: "rw", mountPath: "/rw-view", readOnly: true },
    ]);
  });

  test("snake_case toleration_seconds is accepted and rendered as tolerationSeconds", () => {
    const dc = validate(
      { pod: { tolerations: [{ key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", toleration_seconds: 300 }] } },
      { requestPolicy: { ...NO_WIDENING, allowedTolerationKeys: ["node.kubernetes.io/not-ready"] } },
    ).driverConfig;
    expect(dc.pod.tolerations).toEqual([
      { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
    ]);
  });

  test("null values count as absent", () => {
    const dc = validate({ pod: { runtime_class_name: null, node_selector: null } }).driverConfig;
    expect(dc.pod).toEqual({ nodeSelector: {}, tolerations: [] });
  });
});
