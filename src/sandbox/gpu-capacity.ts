// Whether a GPU sandbox can be scheduled right now. Upstream only asks "does any node have GPUs?";
// counting what running pods already hold lets a request for more GPUs than any node has free fail
// fast with ResourceExhausted instead of sitting Unschedulable.

import type { V1Container, V1Node, V1Pod } from "@kubernetes/client-node";
import { SandboxRequestError } from "./errors";
import { quantityToNumber } from "./quantity";
import { GPU_RESOURCE } from "./resource-map";

const TERMINAL_PHASES = ["Succeeded", "Failed"];

export function checkGpuCapacity(count: number, nodes: V1Node[], pods: V1Pod[]): void {
  const allocatable = (node: V1Node) => quantityToNumber(node.status?.allocatable?.[GPU_RESOURCE] ?? "0") ?? 0;
  if (!nodes.some((node) => allocatable(node) > 0)) {
    throw new SandboxRequestError(
      "FailedPrecondition",
      "sandbox.spec.resource_requirements.gpu",
      "GPU sandbox requested, but the cluster has no allocatable GPUs (no node reports nvidia.com/gpu). Install the NVIDIA device plugin or GPU operator, and use `openshell doctor` to inspect GPU support.",
    );
  }

  const used = new Map<string, number>();
  for (const pod of pods) {
    const node = pod.spec?.nodeName;
    if (!node || TERMINAL_PHASES.includes(pod.status?.phase ?? "")) continue;
    used.set(node, (used.get(node) ?? 0) + podGpus(pod));
  }

  // A cordoned or NotReady node still proves the cluster has GPUs, but offers none to a new pod.
  let best = 0;
  for (const node of nodes) {
    if (node.spec?.unschedulable || !isReady(node)) continue;
    const free = allocatable(node) - (used.get(node.metadata?.name ?? "") ?? 0);
    best = Math.max(best, free);
  }
  if (best < count) {
    throw new SandboxRequestError(
      "ResourceExhausted",
      "sandbox.spec.resource_requirements.gpu.count",
      `${count} ${count === 1 ? "GPU" : "GPUs"} requested, but at most ${best} ${best === 1 ? "is" : "are"} free on any node`,
    );
  }
}

/** GPUs a pod holds: the sum over its containers; an init container holds its GPUs only while it runs, so the max counts. */
function podGpus(pod: V1Pod): number {
  const main = (pod.spec?.containers ?? []).reduce((sum, c) => sum + containerGpus(c), 0);
  const init = Math.max(0, ...(pod.spec?.initContainers ?? []).map(containerGpus));
  return Math.max(main, init);
}

function containerGpus(container: V1Container): number {
  const quantity = container.resources?.limits?.[GPU_RESOURCE] ?? container.resources?.requests?.[GPU_RESOURCE];
  return quantity === undefined ? 0 : (quantityToNumber(quantity) ?? 0);
}

function isReady(node: V1Node): boolean {
  return node.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
}
