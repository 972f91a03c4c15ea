// The checks that read the cluster itself: the Sandbox API, the agent-sandbox controller, the
// driver's namespace and GPU nodes. Each returns its result and never throws: a
// refused or failed read becomes a FAIL or WARN naming what could not be read.
import type { V1Namespace, V1Node } from "@kubernetes/client-node";
import { lookupNamespace, sandboxesPath } from "../driver/kube-paths";
import { isKubeApiError, type KubeClient } from "../kube";
import type { SandboxApiVersion } from "../sandbox/settings";
import { fail, messageOf, pass, warn, type CheckResult, type ClusterContext } from "./checks";

const GROUP = "agents.x-k8s.io";
/** The agent-sandbox release this driver is tested against; its manifest installs CRD and controller. */
export const AGENT_SANDBOX_INSTALL = "kubectl apply -f https://github.com/kubernetes-sigs/agent-sandbox/releases/download/v1.0.1/sandbox.yaml";
const CONTROLLER_NAMESPACE = "agent-sandbox-system";
/** A Sandbox this old without any status condition was never reconciled. */
const UNRECONCILED_AFTER_MS = 120_000;

/** The driver namespace as read once for the namespace, Pod Security and SCC checks. */
export type NamespaceRead = { found: V1Namespace } | { missing: true } | { refused: string } | { failed: string };

export async function readNamespace(client: KubeClient, name: string): Promise<NamespaceRead> {
  try {
    return { found: await client.request<V1Namespace>({ verb: "get", path: `/api/v1/namespaces/${name}`, resource: "namespaces", name }) };
  } catch (err) {
    if (isKubeApiError(err, 404)) return { missing: true };
    if (isKubeApiError(err, 403)) return { refused: messageOf(err) };
    return { failed: messageOf(err) };
  }
}

interface ApiGroup {
  versions?: { version?: string }[];
}

interface ApiResourceList {
  resources?: { name?: string }[];
}

/** Which Sandbox API versions the API server serves, from discovery (open to every identity). */
export async function servedSandboxVersions(client: KubeClient): Promise<SandboxApiVersion[]> {
  let group: ApiGroup;
  try {
    group = await client.request<ApiGroup>({ verb: "get", path: `/apis/${GROUP}`, resource: "apigroups" });
  } catch (err) {
    if (isKubeApiError(err, 404)) return [];
    throw err;
  }
  const served: SandboxApiVersion[] = [];
  for (const version of ["v1beta1", "v1alpha1"] as const) {
    if (!group.versions?.some((v) => v.version === version)) continue;
    const resources = await client.request<ApiResourceList>({ verb: "get", path: `/apis/${GROUP}/${version}`, resource: "apiresources" });
    if (resources.resources?.some((r) => r.name === "sandboxes")) served.push(version);
  }
  return served;
}

/** Check 2: the CRD is served, and in the version --sandbox-api-version asks for. */
export function sandboxApiCheck(served: SandboxApiVersion[] | Error, choice: "auto" | SandboxApiVersion): CheckResult {
  const name = "sandbox api";
  if (served instanceof Error) return fail(name, `cannot read API discovery for ${GROUP}: ${served.message}`, "check the API server and the kubeconfig");
  if (served.length === 0) {
    return fail(name, `the API server serves no Sandbox API (${GROUP} v1beta1 or v1alpha1): the agent-sandbox CRD is not installed`, AGENT_SANDBOX_INSTALL);
  }
  const list = served.map((v) => `${GROUP}/${v}`).join(", ");
  if (choice !== "auto" && !served.includes(choice)) {
    return fail(name, `--sandbox-api-version=${choice} is not served (the cluster serves ${list})`, `--sandbox-api-version=auto (or ${served[0]})`);
  }
  return pass(name, `serves ${list}; the driver speaks ${choice === "auto" ? served[0] : choice}${choice === "auto" ? "" : " (--sandbox-api-version)"}`);
}

interface Deployment {
  metadata?: { name?: string };
  spec?: { replicas?: number };
  status?: { readyReplicas?: number };
}

/**
 * Check 3. The soundest signal this identity may read, first found wins:
 * 1. the controller's Deployment in agent-sandbox-system (needs `list deployments` there, which
 *    the driver's manifests do not grant; an administrator running doctor has it);
 * 2. the newest Sandbox the driver can see, when it has status conditions: the controller writes
 *    them on every reconcile;
 * 3. a suspended probe Sandbox (no pod), created and deleted again, that the controller must give
 *    conditions within 20 s. Shared mode only: the driver may create Sandboxes only in its
 *    namespace there;
 * 4. the newest Sandbox again: one older than two minutes without conditions was never reconciled;
 * else WARN: nothing readable tells.
 */
export async function controllerCheck(ctx: ClusterContext, served: SandboxApiVersion[]): Promise<CheckResult> {
  const name = "sandbox controller";
  if (served.length === 0) return warn(name, "cannot tell: no Sandbox API is served");
  const deployments = await controllerDeployments(ctx.client);
  if (deployments !== undefined && deployments.length > 0) {
    const ready = deployments.filter((d) => (d.status?.readyReplicas ?? 0) > 0);
    const names = deployments.map((d) => d.metadata?.name).join(", ");
    if (ready.length > 0) return pass(name, `Deployment ${ready.map((d) => d.metadata?.name).join(", ")} in ${CONTROLLER_NAMESPACE} has ready replicas`);
    return fail(name, `Deployment ${names} in ${CONTROLLER_NAMESPACE} has no ready replica`, `kubectl -n ${CONTROLLER_NAMESPACE} describe deployment ${deployments[0]?.metadata?.name ?? ""}`.trim());
  }
  const newest = await newestSandboxSignal(ctx);
  if (newest.status === "PASS") return newest;
  if (ctx.config.render.workspaceMode === "shared") {
    const probe = await reconcileProbe(ctx);
    if (probe !== undefined) return probe;
  }
  return newest;
}

async function controllerDeployments(client: KubeClient): Promise<Deployment[] | undefined> {
  try {
    return await client.listAll<Deployment>({ path: `/apis/apps/v1/namespaces/${CONTROLLER_NAMESPACE}/deployments`, resource: "deployments.apps", namespace: CONTROLLER_NAMESPACE });
  } catch {
    // Not readable (the driver's identity) or not there: the next signal decides.
    return undefined;
  }
}

/** How long the probe Sandbox may wait for the controller's first status write (a resync is seconds). */
const PROBE_RECONCILE_MS = 20_000;

/**
 * A suspended Sandbox with one container and no claim (no pod, no volume), created, watched until
 * the controller writes its status conditions, and deleted again. It works alike on agent-sandbox
 * v0.5.x and v1.0.x (v1.0 serves v1beta1 only and has no conversion webhook left to probe).
 * Undefined when this identity may not create or delete it.
 */
async function reconcileProbe(ctx: ClusterContext): Promise<CheckResult | undefined> {
  const name = "sandbox controller";
  const namespace = ctx.config.render.namespace;
  const version = ctx.render.apiVersion;
  const suspended = version === "v1beta1" ? { operatingMode: "Suspended" } : { replicas: 0 };
  const body = {
    apiVersion: `${GROUP}/${version}`,
    kind: "Sandbox",
    metadata: { generateName: "openshell-doctor-", namespace, labels: { "app.kubernetes.io/managed-by": "openshell-driver-k8s-doctor" } },
    spec: { ...suspended, podTemplate: { spec: { containers: [{ name: "probe", image: ctx.render.supervisorImage }] } } },
  };
  const path = sandboxesPath(version, namespace);
  // Never leave a probe behind: only an identity that may delete it creates one. A dry-run delete
  // of a name that does not exist is authorized before it is looked up: 404 = allowed, 403 = not.
  try {
    await ctx.client.request({ verb: "delete", path: `${path}/openshell-doctor-may-delete`, query: { dryRun: "All" }, resource: `sandboxes.${GROUP}`, namespace, name: "openshell-doctor-may-delete" });
  } catch (err) {
    if (!isKubeApiError(err, 404)) return undefined;
  }
  let created: SandboxStatusView;
  try {
    created = await ctx.client.request<SandboxStatusView>({ verb: "create", path, resource: `sandboxes.${GROUP}`, namespace, body });
  } catch (err) {
    if (isKubeApiError(err, 403)) return undefined;
    return warn(name, `cannot tell: creating a suspended probe Sandbox failed: ${messageOf(err)}`);
  }
  const probe = created.metadata?.name ?? "";
  const label = `a suspended probe Sandbox ${namespace}/${probe} (${GROUP}/${version})`;
  const started = Date.now();
  const patience = ctx.controllerProbeMs ?? PROBE_RECONCILE_MS;
  try {
    while (Date.now() - started < patience) {
      const seen = await ctx.client.request<SandboxStatusView>({ verb: "get", path: `${path}/${probe}`, resource: `sandboxes.${GROUP}`, namespace, name: probe });
      const conditions = seen.status?.conditions ?? [];
      if (conditions.length > 0) {
        return pass(name, `the controller reconciled ${label} in ${((Date.now() - started) / 1000).toFixed(1)} s: conditions ${conditions.map((c) => `${c.type}=${c.status}`).join(", ")} (deleted again)`);
      }
      await Bun.sleep(250);
    }
    return fail(name, `the agent-sandbox controller did not reconcile ${label} within ${patience / 1000} s: no status conditions`, `kubectl -n ${CONTROLLER_NAMESPACE} get pods, or install it: ${AGENT_SANDBOX_INSTALL}`);
  } catch (err) {
    return warn(name, `cannot tell: reading ${label} failed: ${messageOf(err)}`);
  } finally {
    await ctx.client.request({ verb: "delete", path: `${path}/${probe}`, resource: `sandboxes.${GROUP}`, namespace, name: probe }).catch(() => undefined);
  }
}

interface SandboxStatusView {
  metadata?: { name?: string; namespace?: string; creationTimestamp?: string };
  status?: { conditions?: { type?: string; status?: string }[] };
}

async function newestSandboxSignal(ctx: ClusterContext): Promise<CheckResult> {
  const name = "sandbox controller";
  let sandboxes: SandboxStatusView[];
  try {
    const namespace = lookupNamespace(ctx.config.render);
    sandboxes = await ctx.client.listAll<SandboxStatusView>({ path: sandboxesPath(ctx.render.apiVersion, namespace), resource: `sandboxes.${GROUP}`, ...(namespace ? { namespace } : {}) });
  } catch (err) {
    return warn(name, `cannot tell: the controller's Deployment is not readable and listing Sandboxes failed: ${messageOf(err)}`);
  }
  const created = (s: SandboxStatusView) => Date.parse(s.metadata?.creationTimestamp ?? "") || 0;
  const newest = sandboxes.sort((a, b) => created(b) - created(a))[0];
  if (!newest) return warn(name, `cannot tell: the controller's Deployment in ${CONTROLLER_NAMESPACE} is not readable and there is no Sandbox whose status would show it working`);
  const label = `Sandbox ${newest.metadata?.namespace}/${newest.metadata?.name}`;
  const conditions = newest.status?.conditions ?? [];
  if (conditions.length > 0) return pass(name, `${label} (the newest) has conditions ${conditions.map((c) => `${c.type}=${c.status}`).join(", ")}, written by the controller`);
  if (Date.now() - created(newest) < UNRECONCILED_AFTER_MS) return warn(name, `cannot tell yet: ${label} (the newest) was created moments ago and has no status yet`);
  return fail(name, `${label} (the newest) has no status conditions after ${UNRECONCILED_AFTER_MS / 60_000} minutes: the agent-sandbox controller is not reconciling`, `kubectl -n ${CONTROLLER_NAMESPACE} get pods, or install it: ${AGENT_SANDBOX_INSTALL}`);
}

/** Check 4: the driver's namespace exists; what it is for depends on the workspace mode. */
export function namespaceCheck(ctx: Pick<ClusterContext, "config">, read: NamespaceRead): CheckResult {
  const name = "namespace";
  const { namespace, workspaceMode } = ctx.config.render;
  const role =
    workspaceMode === "shared"
      ? "where every Sandbox is created (shared mode)"
      : workspaceMode === "managed"
        ? "holding the Secrets copied into each workspace namespace (managed mode: the driver creates a namespace per workspace)"
        : "holding the Secrets copied into workspace namespaces (operator mode: each workspace's namespace is made and granted by the operator)";
  if ("found" in read) return pass(name, `"${namespace}" exists, ${role}`);
  if ("missing" in read) return fail(name, `"${namespace}" (--namespace), ${role}, does not exist`, `kubectl create namespace ${namespace}`);
  if ("refused" in read) return warn(name, `cannot tell whether "${namespace}" exists: this identity may not get namespaces/${namespace}`);
  return fail(name, `cannot read namespace "${namespace}": ${read.failed}`, "check the API server and the kubeconfig");
}

/** Check 9: with GPU sandboxes accepted and capacity checked, some node should offer GPUs. */
export async function gpuNodesCheck(ctx: ClusterContext): Promise<CheckResult> {
  const name = "gpu nodes";
  const { gpuSupport, gpuCapacityCheck } = ctx.config.render;
  if (!gpuSupport) return pass(name, "n/a (--gpu-support=false)");
  if (gpuCapacityCheck === "off") return pass(name, "n/a (--gpu-capacity-check=off)");
  let nodes: V1Node[];
  try {
    nodes = await ctx.client.listAll<V1Node>({ path: "/api/v1/nodes", resource: "nodes" });
  } catch (err) {
    return warn(name, `cannot list nodes: ${messageOf(err)}`, "grant list nodes (deploy/rbac*.yaml), or --gpu-capacity-check=off");
  }
  const withGpus = nodes.filter((n) => Number(n.status?.allocatable?.["nvidia.com/gpu"] ?? "0") > 0);
  if (withGpus.length === 0) {
    const consequence = gpuCapacityCheck === "strict" ? "every GPU sandbox will be refused (RESOURCE_EXHAUSTED)" : "GPU sandboxes will get a capacity warning";
    return warn(name, `none of ${nodes.length} nodes has allocatable nvidia.com/gpu: ${consequence}`, "install the NVIDIA device plugin on GPU nodes, or --gpu-support=false");
  }
  const total = withGpus.reduce((sum, n) => sum + Number(n.status?.allocatable?.["nvidia.com/gpu"]), 0);
  return pass(name, `${withGpus.length} of ${nodes.length} nodes offer ${total} nvidia.com/gpu in all`);
}
