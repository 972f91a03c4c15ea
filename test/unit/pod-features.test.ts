// The comparison that finds a pod field an API server silently drops, and what the driver does
// with the answer: refuse to serve a flag the server drops, refuse one request that asks for it.
import { describe, expect, test } from "bun:test";
import type { V1PodSpec } from "@kubernetes/client-node";
import { DriverError } from "../../src/driver/errors";
import { flagFeatureProblem, PodFeatureGuard } from "../../src/driver/pod-feature-guard";
import type { PodFeatureReport } from "../../src/driver/pod-feature-probe";
import { serverVersionOf } from "../../src/driver/pod-feature-probe";
import { referencePod } from "../../src/platform/reference-pod";
import { featureOfPath, lostFields, namedPath, pathsInInvalidMessage, podFeaturesUsed } from "../../src/sandbox/pod-features";
import { makeSettings } from "./fixtures";

const withUserNamespaces = referencePod(makeSettings({ enableUserNamespaces: true }));
const withImageVolume = referencePod(makeSettings({ supervisorSideload: "image-volume" }));

/** The spec as Kubernetes 1.30 stores it without UserNamespacesSupport: hostUsers gone. */
function withoutHostUsers(spec: V1PodSpec): V1PodSpec {
  const { hostUsers: _dropped, ...rest } = spec;
  return rest as V1PodSpec;
}

/** As 1.33/1.34 store it without ImageVolume: every image volume and its mounts gone (dropImageVolumes). */
function withoutImageVolumes(spec: V1PodSpec): V1PodSpec {
  const images = new Set((spec.volumes ?? []).filter((v) => v.image).map((v) => v.name));
  const strip = (c: V1PodSpec["containers"][number]) => ({ ...c, volumeMounts: (c.volumeMounts ?? []).filter((m) => !images.has(m.name)) });
  return { ...spec, volumes: (spec.volumes ?? []).filter((v) => !images.has(v.name)), containers: spec.containers.map(strip), initContainers: (spec.initContainers ?? []).map(strip) };
}

function report(features: PodFeatureReport["features"], gitVersion = "v1.30.14"): PodFeatureReport {
  return { version: serverVersionOf({ gitVersion }), features, otherLosses: [] };
}

describe("pod fields an API server drops", () => {
  test("a pod stored exactly as sent loses nothing, even with defaults added and quantities normalised", () => {
    const stored = structuredClone(withUserNamespaces) as V1PodSpec & Record<string, unknown>;
    stored.restartPolicy = "Always";
    stored.dnsPolicy = "ClusterFirst";
    expect(lostFields(withUserNamespaces, stored)).toEqual([]);
  });

  test("hostUsers: false dropped by the server is found, although false is the zero value Go omits elsewhere", () => {
    const lost = lostFields(withUserNamespaces, withoutHostUsers(withUserNamespaces));
    expect(lost).toEqual(["spec.hostUsers"]);
    expect(featureOfPath(withUserNamespaces, "spec.hostUsers")).toBe("user-namespaces");
  });

  test("an image volume dropped with its mounts is found and every lost path belongs to the image-volume feature", () => {
    const lost = lostFields(withImageVolume, withoutImageVolumes(withImageVolume));
    expect(lost.length).toBeGreaterThan(1);
    expect(lost.some((p) => p.startsWith("spec.volumes[name="))).toBe(true);
    expect(lost.every((p) => featureOfPath(withImageVolume, p) === "image-volume")).toBe(true);
  });

  test("a zero value the server omits (readOnly: false) is not a loss", () => {
    const sent: V1PodSpec = { containers: [{ name: "a", image: "x", volumeMounts: [{ name: "v", mountPath: "/v", readOnly: false }] }] };
    const stored: V1PodSpec = { containers: [{ name: "a", image: "x", volumeMounts: [{ name: "v", mountPath: "/v" }] }] };
    expect(lostFields(sent, stored)).toEqual([]);
  });

  test("a boolean the server flips is a loss", () => {
    const sent: V1PodSpec = { containers: [{ name: "a", image: "x", securityContext: { readOnlyRootFilesystem: true } }] };
    const stored: V1PodSpec = { containers: [{ name: "a", image: "x", securityContext: { readOnlyRootFilesystem: false } }] };
    expect(lostFields(sent, stored)).toEqual(["spec.containers[name=a].securityContext.readOnlyRootFilesystem"]);
  });

  test("the index path of an API server's 422 message is named after the element it points at", () => {
    const message = 'PodTemplate "openshell-feature-probe-x" is invalid: template.spec.volumes[1]: Required value: must specify a volume type';
    const paths = pathsInInvalidMessage(message);
    expect(paths).toEqual(["spec.volumes[1]"]);
    const named = namedPath(withImageVolume, paths[0]!);
    expect(named).toBe(`spec.volumes[name=${withImageVolume.volumes![1]!.name}]`);
  });

  test("the features a rendered pod uses are read from the pod itself", () => {
    expect(podFeaturesUsed(withUserNamespaces)).toEqual(["user-namespaces"]);
    expect(podFeaturesUsed(withImageVolume)).toEqual(["image-volume"]);
    expect(podFeaturesUsed(referencePod(makeSettings()))).toEqual([]);
  });
});

describe("what the driver does with a dropped feature", () => {
  const dropped = { kept: false as const, fields: ["spec.hostUsers"], evidence: "a server-side dry run of the sandbox pod" };
  const kept = { kept: true as const, evidence: "a server-side dry run of the sandbox pod" };

  test("--enable-user-namespaces on a server that drops hostUsers stops the driver, naming the flag, the field, the version, the gate and the fix", () => {
    const problem = flagFeatureProblem(report({ "user-namespaces": dropped }), makeSettings({ enableUserNamespaces: true }));
    expect(problem?.message).toBe(
      "--enable-user-namespaces cannot be served: the API server (Kubernetes v1.30.14) drops spec.hostUsers from the sandbox pod: " +
        "user namespaces (spec.hostUsers: false) needs the UserNamespacesSupport feature gate, on by default from Kubernetes 1.33; " +
        "fix: run Kubernetes 1.33 or newer, or enable the UserNamespacesSupport feature gate on the API server (and kubelets), or start the driver with --enable-user-namespaces=false",
    );
  });

  test("--supervisor-sideload=image-volume on a server that drops image volumes stops the driver, naming ImageVolume and 1.35", () => {
    const problem = flagFeatureProblem(
      report({ "user-namespaces": kept, "image-volume": { kept: false, fields: ["spec.volumes[name=openshell-supervisor]"], evidence: "a server-side dry run of the sandbox pod" } }, "v1.33.13"),
      makeSettings({ supervisorSideload: "image-volume" }),
    );
    expect(problem?.message).toContain("--supervisor-sideload=image-volume cannot be served: the API server (Kubernetes v1.33.13) drops spec.volumes[name=openshell-supervisor]");
    expect(problem?.fix).toBe("run Kubernetes 1.35 or newer, or enable the ImageVolume feature gate on the API server (and kubelets), or start the driver with --supervisor-sideload=init-container");
  });

  test("a driver without those flags serves a server that drops them", () => {
    expect(flagFeatureProblem(report({ "user-namespaces": dropped }), makeSettings())).toBeUndefined();
  });

  test("a request asking for a user namespace the server drops is refused FAILED_PRECONDITION naming platform_config.host_users; others pass", () => {
    const guard = new PodFeatureGuard(report({ "user-namespaces": dropped }), makeSettings());
    expect(() => guard.checkPod(referencePod(makeSettings()))).not.toThrow();
    let err: unknown;
    try {
      guard.checkPod(withUserNamespaces);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DriverError);
    expect((err as DriverError).code).toBe("FailedPrecondition");
    expect((err as DriverError).message).toStartWith("sandbox.spec.template.platform_config.host_users asks for user namespaces (spec.hostUsers: false), which this cluster would silently drop: the API server (Kubernetes v1.30.14) drops spec.hostUsers");
  });

  test("a new report (the API server was upgraded) lifts the refusal", () => {
    const settings = makeSettings({ enableUserNamespaces: true });
    const guard = new PodFeatureGuard(report({ "user-namespaces": dropped }), settings);
    expect(guard.problem()).toContain("Kubernetes v1.30.14");
    guard.update(report({ "user-namespaces": kept }, "v1.33.13"));
    expect(guard.problem()).toBeUndefined();
    expect(guard.version).toBe("v1.33.13");
    expect(() => guard.checkPod(withUserNamespaces)).not.toThrow();
  });

  test("a managed cluster's minor such as 33+ is read as 33", () => {
    expect(serverVersionOf({ major: "1", minor: "33+", gitVersion: "v1.33.5-eks-1" })).toEqual({ major: 1, minor: 33, gitVersion: "v1.33.5-eks-1" });
  });
});
