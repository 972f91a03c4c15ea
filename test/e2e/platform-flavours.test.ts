// e2e tier: `--platform auto` against the local control plane dressed as each platform by
// cluster/platform.sh. Other e2e files expect plain Kubernetes, so it is always put back.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { KubeClient, loadKubeAccess } from "../../src/kube";
import { detectPlatform } from "../../src/platform/detect";
import { clusterState, installPlatformFlavour, kubectlGetOptional, kubectlJson } from "../support/cluster";
import { CLUSTER_DIR } from "../support/paths";

const SWITCH_TIMEOUT_MS = 150_000;
const SCC_ANNOTATIONS = {
  "openshift.io/sa.scc.uid-range": "1000680000/10000",
  "openshift.io/sa.scc.supplemental-groups": "1000680000/10000",
  "openshift.io/sa.scc.mcs": "s0:c26,c10",
};

let client: KubeClient;

function recordedFlavour(): string | undefined {
  return /^CLUSTER_PLATFORM=(.*)$/m.exec(readFileSync(join(CLUSTER_DIR, "state.env"), "utf8"))?.[1];
}

function openshellSystemAnnotations(): Record<string, string> {
  return kubectlJson<{ metadata: { annotations?: Record<string, string> } }>(["get", "namespace", "openshell-system"]).metadata.annotations ?? {};
}

beforeAll(async () => {
  client = new KubeClient(await loadKubeAccess({ kubeconfigPath: clusterState().kubeconfig }), { timeoutMs: 10_000 });
});

afterAll(() => {
  installPlatformFlavour("kubernetes");
}, SWITCH_TIMEOUT_MS);

describe("the openshift flavour", () => {
  beforeAll(() => {
    expect(installPlatformFlavour("openshift")).toBe("openshift");
  }, SWITCH_TIMEOUT_MS);

  test("is detected as OpenShift 4.16.3 from its SCC group and ClusterVersion", async () => {
    expect(await detectPlatform(client, "auto")).toEqual({
      name: "openshift",
      evidence: "served: security.openshift.io, config.openshift.io; ClusterVersion 4.16.3",
      version: "4.16.3",
    });
  });

  test("serves Routes and OpenShift's default SCCs, and openshell-system carries the SCC ranges", () => {
    for (const scc of ["restricted-v2", "anyuid", "privileged"]) expect(kubectlGetOptional(["securitycontextconstraints.security.openshift.io", scc])).toBeDefined();
    expect(kubectlJson<{ items: unknown[] }>(["get", "routes.route.openshift.io", "-A"]).items).toEqual([]);
    expect(openshellSystemAnnotations()).toMatchObject(SCC_ANNOTATIONS);
    expect(recordedFlavour()).toBe("openshift");
  });
});

describe("the kyma flavour", () => {
  beforeAll(() => {
    expect(installPlatformFlavour("kyma")).toBe("kyma");
  }, SWITCH_TIMEOUT_MS);

  test("is detected as Kyma from the APIRule group and the shoot-info domain", async () => {
    expect(await detectPlatform(client, "auto")).toEqual({
      name: "kyma",
      evidence: "served: gateway.kyma-project.io; ConfigMap kube-system/shoot-info (domain c-test123.kyma.ondemand.com)",
      version: "",
    });
  });

  test("has the Kyma gateway for the shoot's domain, and nothing of OpenShift is left", () => {
    const gateway = kubectlJson<{ spec: { servers: { hosts: string[]; tls: Record<string, unknown> }[] } }>(["get", "gateways.networking.istio.io", "kyma-gateway", "-n", "kyma-system"]);
    expect(gateway.spec.servers.map((s) => [s.hosts, s.tls])).toEqual([
      [["*.c-test123.kyma.ondemand.com"], { mode: "SIMPLE", credentialName: "kyma-gateway-certs" }],
      [["*.c-test123.kyma.ondemand.com"], { httpsRedirect: true }],
    ]);
    expect(kubectlGetOptional(["crd", "securitycontextconstraints.security.openshift.io"])).toBeUndefined();
    expect(Object.keys(openshellSystemAnnotations())).not.toContain("openshift.io/sa.scc.uid-range");
    expect(recordedFlavour()).toBe("kyma");
  });
});

describe("the kubernetes flavour", () => {
  beforeAll(() => {
    expect(installPlatformFlavour("kubernetes")).toBe("kubernetes");
  }, SWITCH_TIMEOUT_MS);

  test("is detected as plain Kubernetes once every flavour's API group and object is gone", async () => {
    expect(await detectPlatform(client, "auto")).toEqual({
      name: "kubernetes",
      evidence: "no OpenShift or Kyma API groups served; no ConfigMap kube-system/shoot-info",
      version: "",
    });
    for (const ns of ["kyma-system", "istio-system"]) expect(kubectlGetOptional(["namespace", ns])).toBeUndefined();
    expect(recordedFlavour()).toBe("kubernetes");
  });
});
