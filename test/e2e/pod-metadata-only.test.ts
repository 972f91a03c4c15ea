// e2e tier: the driver reads pods as metadata only (PartialObjectMetadata), and on a real
// kube-apiserver with the driver's least-privileged identity (deploy/rbac.yaml) that still gives
// every sandbox its pod: the streaming list, the LIST and the watch are all allowed and answered
// with each pod's name and labels, and the compiled driver reports the pod's name as instance id.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { V1Pod } from "@kubernetes/client-node";
import { slimPod } from "../../src/driver/slim-objects";
import { Informer, KubeClient, loadKubeAccess, type InitialSync } from "../../src/kube";
import { ANNOTATION_POD_NAME, managedSelector, observeSandbox, type SandboxResource } from "../../src/sandbox";
import { connectClient } from "../support/clients";
import { driverKubeconfig, eventually, kubectl, kubectlJson } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { sandboxRequest, uniqueName } from "../support/requests";

const NS = "openshell-system";
const GATEWAY_ID = `e2e-podmeta-${Date.now().toString(36)}`;
const PODS = `/api/v1/namespaces/${NS}/pods`;

let driver: DriverProcess;
let client: KubeClient;
const informers: Informer<V1Pod>[] = [];

function podInformer(initialSync: InitialSync): Informer<V1Pod> {
  const informer = new Informer<V1Pod>({ client, resource: "pods", listPath: PODS, labelSelector: managedSelector(GATEWAY_ID), metadataOnly: true, initialSync });
  informers.push(informer);
  informer.start();
  return informer;
}

/** The pod of `sandboxId` as an informer cached it, once it has. */
function cachedPod(informer: Informer<V1Pod>, sandboxId: string): V1Pod | undefined {
  return informer.list().find((pod) => pod.metadata?.labels?.["openshell.ai/sandbox-id"] === sandboxId);
}

beforeAll(async () => {
  const kubeconfig = driverKubeconfig();
  client = new KubeClient(await loadKubeAccess({ kubeconfigPath: kubeconfig }), { timeoutMs: 10_000 });
  driver = await startDriver({ kubeconfig, gatewayId: GATEWAY_ID });
});

afterAll(async () => {
  await Promise.all(informers.map((informer) => informer.stop()));
  kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/gateway-id=${GATEWAY_ID}`, "--wait=false"], { allowFailure: true });
  await driver?.stop();
});

describe("pods read as metadata only (real control plane, least-privileged driver)", () => {
  test("a streaming list, a LIST and a watch of pods as metadata only are allowed, and carry each pod's name and labels without spec or status", async () => {
    const watching = [podInformer("streaming"), podInformer("list")];
    await Promise.all(watching.map((informer) => informer.waitForSync()));
    const { id, name } = uniqueName("podmeta");
    await connectClient(driver.socket).createSandbox({ sandbox: sandboxRequest({ id, name }) });
    const podName = await eventually("the controller's pod", () => kubectlJson<{ items: V1Pod[] }>(["get", "pods", "-n", NS, "-l", `openshell.ai/sandbox-id=${id}`]).items[0]?.metadata?.name);

    // Seen live on the watches, then in the initial state of new informers of both kinds.
    const listing = [podInformer("streaming"), podInformer("list")];
    for (const informer of [...watching, ...listing]) {
      const pod = await eventually("the pod in the informer", () => cachedPod(informer, id));
      expect(pod.kind as string).toBe("PartialObjectMetadata");
      expect(pod.metadata?.name).toBe(podName);
      expect(pod.spec).toBeUndefined();
      expect(pod.status).toBeUndefined();
      expect(informer.lastError()).toBeUndefined();
    }

    // Without the CR's pod-name annotation to fall back on, the metadata alone names the instance.
    const cr = kubectlJson<{ items: SandboxResource[] }>(["get", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/sandbox-id=${id}`]).items[0]!;
    delete cr.metadata.annotations?.[ANNOTATION_POD_NAME];
    const observed = observeSandbox({ ...cr, status: cr.status ?? { conditions: [] } }, slimPod(cachedPod(listing[0]!, id)!));
    expect(observed?.status?.instanceId).toBe(podName);

    const got = await eventually("GetSandbox with the pod as instance id", async () => {
      const sandbox = (await connectClient(driver.socket).getSandbox({ sandboxId: id })).sandbox;
      return sandbox?.status?.instanceId ? sandbox : undefined;
    });
    expect(got.status!.instanceId).toBe(podName);
  });
});
