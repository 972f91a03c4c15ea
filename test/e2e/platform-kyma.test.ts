// e2e tier, Kyma flavour of the local control plane (cluster/platform.sh kyma: the APIRule and
// Istio APIs, kube-system/shoot-info and the kyma-system/kyma-gateway Gateway). Pod Security is
// enforced for real by this API server, so the refusal and the admitted namespace are both real.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectClient } from "../support/clients";
import {
  driverKubeconfig,
  eventually,
  grantDriverRoleIn,
  installPlatformFlavour,
  kubectl,
  kubectlGetOptional,
  kubectlJson,
  revokePlatformRules,
} from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { sandboxRequest, uniqueName } from "../support/requests";
import { condition } from "../support/watch-recorder";

const NS = "openshell-system";
const RUN = Date.now().toString(36);
const GATEWAY_ID = `e2e-kyma-${RUN}`;
/** A namespace of its own whose Pod Security label the tests change. */
const PSA_NS = `e2e-kyma-psa-${RUN}`;
const DOMAIN = "c-test123.kyma.ondemand.com";
const ENFORCE = "pod-security.kubernetes.io/enforce";
const FIX_LINE = `kubectl label ns ${PSA_NS} ${ENFORCE}=privileged --overwrite`;

let virtualService: DriverProcess;
let apiRule: DriverProcess;
let psa: DriverProcess;
let kubeconfig: string;

function crOf(namespace: string, sandboxId: string): any | undefined {
  return kubectlJson<{ items: any[] }>(["get", "sandboxes.agents.x-k8s.io", "-n", namespace, "-l", `openshell.ai/sandbox-id=${sandboxId}`]).items[0];
}

function podsOf(namespace: string, sandboxId: string): any[] {
  return kubectlJson<{ items: any[] }>(["get", "pods", "-n", namespace, "-l", `openshell.ai/sandbox-id=${sandboxId}`]).items;
}

function labelPsa(level: string): void {
  kubectl(["label", "ns", PSA_NS, `${ENFORCE}=${level}`, "--overwrite"]);
}

async function readyOf(socket: string, sandboxId: string): Promise<void> {
  const client = connectClient(socket);
  await eventually("Ready=True through the driver", async () => {
    const s = (await client.getSandbox({ sandboxId })).sandbox!;
    return condition(s, "Ready")?.status === "True" ? s : undefined;
  }, 120_000);
}

beforeAll(async () => {
  installPlatformFlavour("kyma");
  kubectl(["create", "namespace", PSA_NS]);
  labelPsa("privileged");
  grantDriverRoleIn(PSA_NS);
  kubeconfig = driverKubeconfig("kyma");
  [virtualService, apiRule, psa] = await Promise.all([
    startDriver({ kubeconfig, gatewayId: GATEWAY_ID, args: ["--platform=auto", "--expose=virtualservice"] }),
    startDriver({ kubeconfig, gatewayId: `${GATEWAY_ID}-a`, args: ["--platform=auto", "--expose=apirule", "--istio-inject=true"] }),
    startDriver({ kubeconfig, gatewayId: `${GATEWAY_ID}-p`, namespace: PSA_NS, args: ["--platform=auto"] }),
  ]);
});

afterAll(async () => {
  for (const gateway of [GATEWAY_ID, `${GATEWAY_ID}-a`]) {
    kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/gateway-id=${gateway}`, "--wait=false"], { allowFailure: true });
  }
  await Promise.all([virtualService?.stop(), apiRule?.stop(), psa?.stop()]);
  kubectl(["delete", "namespace", PSA_NS, "--wait=false"], { allowFailure: true });
  revokePlatformRules("kyma");
  installPlatformFlavour("kubernetes");
});

describe("on the Kyma flavour", () => {
  test("serve --platform=auto detects Kyma from shoot-info and says so in /readyz and the platform metric", async () => {
    const readyz = await (await fetch(`${virtualService.healthUrl}/readyz`)).text();
    expect(readyz).toStartWith("ok\n");
    expect(readyz).toContain("platform: kyma (");
    expect(readyz).toContain("shoot-info");
    const metrics = await (await fetch(`${virtualService.healthUrl}/metrics`)).text();
    expect(metrics).toContain('openshell_driver_platform_info{platform="kyma",version=""} 1');
  });

  test("--expose=virtualservice: the sandbox becomes Ready without an Istio sidecar, reachable as {workspace}--{name}.{domain} through the Kyma gateway only; all of it goes with the sandbox", async () => {
    const { id, name } = uniqueName("kvs");
    const client = connectClient(virtualService.socket);
    await client.createSandbox({ sandbox: sandboxRequest({ id, name, workspace: "team" }) });
    await readyOf(virtualService.socket, id);
    expect(podsOf(NS, id)[0].metadata.labels["sidecar.istio.io/inject"]).toBe("false");

    const cr = crOf(NS, id);
    const exposed = `sb-${cr.metadata.name}`;
    const owner = { apiVersion: cr.apiVersion, kind: "Sandbox", name: cr.metadata.name, uid: cr.metadata.uid };
    const vs = await eventually<any>("the VirtualService", () => kubectlGetOptional(["virtualservices.networking.istio.io", exposed, "-n", NS]));
    expect(vs.spec.hosts).toEqual([`team--${name}.${DOMAIN}`]);
    expect(vs.spec.gateways).toEqual(["kyma-system/kyma-gateway"]);
    expect(vs.metadata.ownerReferences).toEqual([owner]);
    const policy = kubectlGetOptional(["networkpolicy", exposed, "-n", NS]);
    expect(policy.spec.podSelector.matchLabels["openshell.ai/sandbox-id"]).toBe(id);
    expect(JSON.stringify(policy.spec.ingress)).toContain("ingressgateway");
    expect(policy.metadata.ownerReferences).toEqual([owner]);
    expect(kubectlGetOptional(["service", exposed, "-n", NS]).metadata.ownerReferences).toEqual([owner]);

    await client.deleteSandbox({ sandboxId: id });
    await eventually("the CR, its pod, VirtualService, NetworkPolicy and Service gone", () =>
      !crOf(NS, id) &&
      podsOf(NS, id).length === 0 &&
      !kubectlGetOptional(["virtualservices.networking.istio.io", exposed, "-n", NS]) &&
      !kubectlGetOptional(["networkpolicy", exposed, "-n", NS]) &&
      !kubectlGetOptional(["service", exposed, "-n", NS])
        ? true
        : undefined,
    120_000);
  });

  test("--expose=apirule --istio-inject=true: the pod asks for the sidecar and an APIRule v2 with a short host routes the Kyma gateway to it", async () => {
    const { id, name } = uniqueName("kar");
    const client = connectClient(apiRule.socket);
    await client.createSandbox({ sandbox: sandboxRequest({ id, name }) });
    const pod = await eventually<any>("the pod", () => podsOf(NS, id)[0]);
    expect(pod.metadata.labels["sidecar.istio.io/inject"]).toBe("true");
    const cr = crOf(NS, id);
    const exposed = `sb-${cr.metadata.name}`;
    const rule = await eventually<any>("the APIRule", () => kubectlGetOptional(["apirules.gateway.kyma-project.io", exposed, "-n", NS]));
    expect(rule.apiVersion).toBe("gateway.kyma-project.io/v2");
    expect(rule.spec.gateway).toBe("kyma-system/kyma-gateway");
    expect(rule.spec.hosts).toEqual([exposed]);
    expect(rule.spec.service).toMatchObject({ name: exposed, port: 8080 });
    await client.deleteSandbox({ sandboxId: id });
    await eventually("the APIRule gone", () => (!crOf(NS, id) && !kubectlGetOptional(["apirules.gateway.kyma-project.io", exposed, "-n", NS]) ? true : undefined), 120_000);
  });

  test("a namespace whose Pod Security level is too low is refused with the kubectl line that fixes it; once fixed, sandboxes run there", async () => {
    labelPsa("baseline");
    const { id, name } = uniqueName("kpsa");
    const client = connectClient(psa.socket);
    const err = await client.validateSandboxCreate({ sandbox: sandboxRequest({ id, name }) }).catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((err as ConnectError).rawMessage).toContain("privileged");
    expect((err as ConnectError).rawMessage).toContain(FIX_LINE);
    expect(crOf(PSA_NS, id)).toBeUndefined();

    // A driver started on that namespace says so at once, and recovers when the label is fixed.
    const starting = await startDriver({ kubeconfig, gatewayId: `${GATEWAY_ID}-s`, namespace: PSA_NS, args: ["--platform=auto"], waitFor: "socket" });
    try {
      const refused = await eventually("/readyz 503 with the fix line", async () => {
        const res = await fetch(`${starting.healthUrl}/readyz`);
        const body = await res.text();
        return res.status === 503 && body.includes(FIX_LINE) ? body : undefined;
      });
      expect(refused).toContain("baseline");
      labelPsa("privileged");
      await eventually("/readyz 200 after the label is fixed", async () => ((await fetch(`${starting.healthUrl}/readyz`)).status === 200 ? true : undefined), 60_000);
      await connectClient(starting.socket).createSandbox({ sandbox: sandboxRequest({ id, name }) });
      await readyOf(starting.socket, id);
      await connectClient(starting.socket).deleteSandbox({ sandboxId: id });
    } finally {
      await starting.stop();
    }
  });
});
