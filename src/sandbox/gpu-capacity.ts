// Whether a GPU sandbox can be scheduled right now. Upstream only asks "does any node have GPUs?";
// this asks it of the nodes the sandbox's pod could actually land on (Ready, its node selector,
// taints it tolerates) and counts what their pods already hold, so a request that cannot fit fails
// fast instead of sitting Unschedulable. The reads live in src/driver; this is the arithmetic.

import type { V1Container, V1Node, V1Pod, V1Taint, V1Toleration } from "@kubernetes/client-node";
import { DRIVER_CONFIG_PATH } from "./driver-config";
import { SandboxRequestError } from "./errors";
import { quantityToNumber } from "./quantity";
import { GPU_RESOURCE } from "./resource-map";
import type { ValidatedSandbox } from "./validate";

const GPU_FIELD = "sandbox.spec.resource_requirements.gpu";

/** Which accelerator resource to count on nodes and pods, and the request fields to name. */
export interface GpuKind {
  resource: string;
  /** Named when no node could ever take the sandbox. */
  field: string;
  /** Named when nodes exist but too few GPUs are free. */
  countField: string;
}

/** spec.resource_requirements.gpu: upstream's one GPU kind. */
export const NVIDIA_GPU: GpuKind = { resource: GPU_RESOURCE, field: GPU_FIELD, countField: `${GPU_FIELD}.count` };

/** The kind to check for a demand found in the pod's limits (a MIG slice, an AMD or Intel GPU…). */
export function gpuKindOf(demand: { resource: string; field: string }): GpuKind {
  if (demand.field === GPU_FIELD) return NVIDIA_GPU;
  return { resource: demand.resource, field: demand.field, countField: demand.field };
}
/** The taint the scheduler treats a cordoned node (spec.unschedulable) as having. */
const UNSCHEDULABLE_TAINT: V1Taint = { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" };
/** Taints Kubernetes puts on a node for a passing state (not ready, cordoned, under pressure, starting). */
const STATE_TAINT_PREFIXES = ["node.kubernetes.io/", "node.cloudprovider.kubernetes.io/"];

/** What decides which nodes the sandbox's pod may use, merged as rendering merges it. */
export interface NodePlacement {
  nodeSelector: Record<string, string>;
  tolerations: V1Toleration[];
}

export function nodePlacementOf(v: Pick<ValidatedSandbox, "platformConfig" | "driverConfig">): NodePlacement {
  // platform_config wins over driver_config per key; tolerations add up (see renderPodSpec).
  return {
    nodeSelector: { ...v.driverConfig.pod.nodeSelector, ...v.platformConfig.nodeSelector },
    tolerations: [...v.platformConfig.tolerations, ...v.driverConfig.pod.tolerations],
  };
}

function allocatableGpus(node: V1Node, kind: GpuKind): number {
  return quantityToNumber(node.status?.allocatable?.[kind.resource] ?? "0") ?? 0;
}

/**
 * Why the scheduler would never put the pod on this node, or undefined when it would once the
 * node is in a good state again (Ready, uncordoned, no pressure).
 */
function placementRefusal(node: V1Node, placement: NodePlacement): string | undefined {
  const labels = node.metadata?.labels ?? {};
  for (const [key, value] of Object.entries(placement.nodeSelector)) {
    if (labels[key] !== value) return `its label ${key} is ${labels[key] === undefined ? "not set" : `"${labels[key]}"`}, not "${value}"`;
  }
  const taint = untoleratedTaints(node, placement).find((t) => !STATE_TAINT_PREFIXES.some((p) => t.key?.startsWith(p)));
  if (taint) return `it has the taint ${describeTaint(taint)}, which the sandbox does not tolerate`;
  return undefined;
}

/** Whether the pod could be scheduled on a node it is placeable on, right now. */
function availableNow(node: V1Node, placement: NodePlacement): boolean {
  return isReady(node) && untoleratedTaints(node, placement).length === 0;
}

/**
 * The nodes to count free GPUs on: those that could take the pod now, with at least `count`
 * allocatable. Throws FailedPrecondition when no node with GPUs would ever take it (waiting will
 * not help), ResourceExhausted when such nodes exist but none is big enough or available now.
 */
export function gpuCandidateNodes(count: number, nodes: V1Node[], placement: NodePlacement, kind: GpuKind = NVIDIA_GPU): V1Node[] {
  const available = availableGpuNodes(nodes, placement, kind);
  const candidates = available.filter((node) => allocatableGpus(node, kind) >= count);
  if (candidates.length === 0) throw gpusExhausted(count, Math.max(0, ...available.map((node) => allocatableGpus(node, kind))), kind);
  return candidates;
}

/**
 * The verdict, given every node and (at least) the pods on gpuCandidateNodes' nodes: returns when
 * one of them has `count` GPUs free, else throws FailedPrecondition or ResourceExhausted.
 */
export function checkGpuCapacity(count: number, nodes: V1Node[], pods: V1Pod[], placement: NodePlacement, kind: GpuKind = NVIDIA_GPU): void {
  const candidates = gpuCandidateNodes(count, nodes, placement, kind);
  if (candidates.some((node) => freeGpus(node, pods, kind) >= count)) return;
  // Nodes too small to be candidates had their pods left unread: their allocatable bounds what is free.
  const best = availableGpuNodes(nodes, placement, kind).map((node) =>
    candidates.includes(node) ? freeGpus(node, pods, kind) : allocatableGpus(node, kind),
  );
  throw gpusExhausted(count, Math.max(0, ...best), kind);
}

/** Nodes with GPUs the pod could be scheduled on now; throws FailedPrecondition if none ever could. */
function availableGpuNodes(nodes: V1Node[], placement: NodePlacement, kind: GpuKind): V1Node[] {
  const gpuNodes = nodes.filter((node) => allocatableGpus(node, kind) > 0);
  if (gpuNodes.length === 0) {
    throw new SandboxRequestError(
      "FailedPrecondition",
      kind.field,
      `GPU sandbox requested, but the cluster has no allocatable GPUs (no node reports ${kind.resource}). Install the device plugin or GPU operator, and use \`openshell doctor\` to inspect GPU support.`,
    );
  }
  const refusals = gpuNodes.map((node) => ({ node, refusal: placementRefusal(node, placement) }));
  // A node that is not Ready may come back; one that fails the selector or taints will not.
  const placeable = refusals.filter((r) => r.refusal === undefined).map((r) => r.node);
  if (placeable.length === 0) {
    const reasons = refusals.slice(0, 3).map((r) => `node ${r.node.metadata?.name ?? "?"}: ${r.refusal}`);
    const more = refusals.length > 3 ? `; and ${refusals.length - 3} more nodes` : "";
    throw new SandboxRequestError(
      "FailedPrecondition",
      kind.field,
      `no node with GPUs can take this sandbox given its node selector and tolerations (${placementSources()}): ${reasons.join("; ")}${more}`,
    );
  }
  return placeable.filter((node) => availableNow(node, placement));
}

/** GPUs left on a node: allocatable minus what its pods that have not finished hold. */
function freeGpus(node: V1Node, pods: V1Pod[], kind: GpuKind): number {
  const name = node.metadata?.name;
  const held = pods
    .filter((pod) => pod.spec?.nodeName === name && !TERMINAL_PHASES.includes(pod.status?.phase ?? ""))
    .reduce((sum, pod) => sum + podGpus(pod, kind), 0);
  return allocatableGpus(node, kind) - held;
}

/** The refusal when no candidate node has `count` GPUs free; `best` is the most free on any. */
function gpusExhausted(count: number, best: number, kind: GpuKind): SandboxRequestError {
  return new SandboxRequestError(
    "ResourceExhausted",
    kind.countField,
    `${count} ${count === 1 ? "GPU" : "GPUs"} requested, but at most ${best} ${best === 1 ? "is" : "are"} free on any Ready node this sandbox can be scheduled on`,
  );
}

const TERMINAL_PHASES = ["Succeeded", "Failed"];

/** GPUs a pod holds: the sum over its containers; an init container holds its GPUs only while it runs, so the max counts. */
function podGpus(pod: V1Pod, kind: GpuKind): number {
  const main = (pod.spec?.containers ?? []).reduce((sum, c) => sum + containerGpus(c, kind), 0);
  const init = Math.max(0, ...(pod.spec?.initContainers ?? []).map((c) => containerGpus(c, kind)));
  return Math.max(main, init);
}

function containerGpus(container: V1Container, kind: GpuKind): number {
  const quantity = container.resources?.limits?.[kind.resource] ?? container.resources?.requests?.[kind.resource];
  return quantity === undefined ? 0 : (quantityToNumber(quantity) ?? 0);
}

function isReady(node: V1Node): boolean {
  return node.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
}

/** Taints that keep this pod off the node at scheduling time; PreferNoSchedule only discourages. */
function untoleratedTaints(node: V1Node, placement: NodePlacement): V1Taint[] {
  const taints = (node.spec?.taints ?? []).filter((t) => t.effect === "NoSchedule" || t.effect === "NoExecute");
  const cordoned = node.spec?.unschedulable && !taints.some((t) => t.key === UNSCHEDULABLE_TAINT.key);
  const blocking = cordoned ? [...taints, UNSCHEDULABLE_TAINT] : taints;
  return blocking.filter((taint) => !placement.tolerations.some((toleration) => tolerates(toleration, taint)));
}

/** Kubernetes' Toleration.ToleratesTaint. */
function tolerates(toleration: V1Toleration, taint: V1Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  if (toleration.operator === "Exists") return true;
  // Equal (the default): the key must be named, and the values must match.
  return !!toleration.key && (toleration.value ?? "") === (taint.value ?? "");
}

function describeTaint(taint: V1Taint): string {
  return `${taint.key}${taint.value ? `=${taint.value}` : ""}:${taint.effect}`;
}

function placementSources(): string {
  return `sandbox.spec.template.platform_config and ${DRIVER_CONFIG_PATH}.pod`;
}
