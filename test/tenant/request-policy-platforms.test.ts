// Tenant tier on the platform-dressed control planes (cluster/platform.sh): the Istio keys a Kyma
// gateway user could send, and OpenShift's SCC keys, refused by the driver running as that
// platform with its own least-privileged identity — and the platform's own settings still win on
// the pod the driver writes for an admitted request.
import { afterAll, describe, expect, test } from "bun:test";
import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectClient } from "../support/clients";
import { driverKubeconfig, installPlatformFlavour, kubectl, kubectlJson, revokePlatformRules } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { TEST_IMAGE, sandboxRequest, uniqueName } from "../support/requests";

const NS = "openshell-system";
const RUN = Date.now().toString(36);
const started: { driver: DriverProcess; gateway: string }[] = [];

afterAll(async () => {
  for (const { driver, gateway } of started) {
    kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/gateway-id=${gateway}`, "--wait=false"], { allowFailure: true });
    await driver.stop();
  }
  // Every later test file finds the plain-Kubernetes control plane, as the platform e2e files leave it.
  revokePlatformRules("openshift");
  revokePlatformRules("kyma");
  installPlatformFlavour("kubernetes");
});

async function platformDriver(platform: "kyma" | "openshift", args: string[]): Promise<DriverProcess> {
  installPlatformFlavour(platform);
  if (platform === "openshift") {
    // The sandbox ServiceAccount the shipped SCC's use is granted to (as the OpenShift e2e sets up).
    kubectl(["apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "openshell-sandbox", namespace: NS } }) });
  }
  const gateway = `tp-${platform}-${RUN}`;
  const extra = platform === "openshift" ? ["--service-account-name=openshell-sandbox"] : [];
  const driver = await startDriver({ kubeconfig: driverKubeconfig(platform), gatewayId: gateway, args: ["--platform=auto", ...extra, ...args] });
  started.push({ driver, gateway });
  return driver;
}

function request(prefix: string, labels: Record<string, string>, platformConfig: JsonObject) {
  return sandboxRequest({ ...uniqueName(prefix), workspace: "tp", spec: { template: { image: TEST_IMAGE, labels, platformConfig } } });
}

async function expectRefusedBoth(driver: DriverProcess, sandbox: ReturnType<typeof request>, field: string): Promise<void> {
  const client = connectClient(driver.socket);
  for (const call of [client.validateSandboxCreate({ sandbox }), client.createSandbox({ sandbox })]) {
    const err = ConnectError.from(await call.then(() => new Error("accepted")).catch((e: unknown) => e));
    expect({ code: err.code, field: err.rawMessage.split(": ")[0] }).toEqual({ code: Code.PermissionDenied, field });
  }
  expect(kubectlJson<{ items: unknown[] }>(["get", "sandboxes.agents.x-k8s.io", "-A", "-l", `openshell.ai/sandbox-id=${sandbox.id}`]).items).toEqual([]);
}

describe("Kyma: Istio's keys stay the operator's", () => {
  test("sidecar.istio.io/inject cannot override --istio-inject, and userVolume/proxyImage are refused; the operator's inject setting is what the pod gets", async () => {
    const driver = await platformDriver("kyma", ["--istio-inject=false"]);
    await expectRefusedBoth(driver, request("istio", { "sidecar.istio.io/inject": "true" }, {}), 'sandbox.spec.template.labels["sidecar.istio.io/inject"]');
    for (const key of ["sidecar.istio.io/inject", "sidecar.istio.io/userVolume", "sidecar.istio.io/userVolumeMount", "sidecar.istio.io/proxyImage", "traffic.sidecar.istio.io/excludeOutboundIPRanges"]) {
      await expectRefusedBoth(driver, request("istio", {}, { annotations: { [key]: "x" } }), `sandbox.spec.template.platform_config.annotations[${JSON.stringify(key)}]`);
    }
    const admitted = request("istio", { team: "ml" }, {});
    await connectClient(driver.socket).createSandbox({ sandbox: admitted });
    const [cr] = kubectlJson<{ items: any[] }>(["get", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/sandbox-id=${admitted.id}`]).items;
    expect(cr.spec.podTemplate.metadata.labels["sidecar.istio.io/inject"]).toBe("false");
  });
});

describe("OpenShift: the SCC the pod runs under stays the operator's", () => {
  test("openshift.io/required-scc and openshift.io/scc annotations are refused; the pod is pinned to --openshift-scc", async () => {
    const driver = await platformDriver("openshift", []);
    for (const key of ["openshift.io/required-scc", "openshift.io/scc"]) {
      await expectRefusedBoth(driver, request("scc", {}, { annotations: { [key]: "privileged" } }), `sandbox.spec.template.platform_config.annotations[${JSON.stringify(key)}]`);
    }
    const admitted = request("scc", {}, { annotations: { "example.com/owner": "alice" } });
    await connectClient(driver.socket).createSandbox({ sandbox: admitted });
    const [cr] = kubectlJson<{ items: any[] }>(["get", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/sandbox-id=${admitted.id}`]).items;
    expect(cr.spec.podTemplate.metadata.annotations["openshift.io/required-scc"]).toBe("openshell-sandbox");
    expect(cr.spec.podTemplate.metadata.annotations["example.com/owner"]).toBe("alice");
  });
});
