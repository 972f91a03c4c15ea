// Reads what the pure GPU capacity check needs: every node (paged), then the unfinished pods of
// only those nodes the sandbox could use now, one node at a time by field selector, so a
// validation never reads the whole cluster's pods. --gpu-capacity-check decides what a refusal does.
import type { V1Node, V1Pod } from "@kubernetes/client-node";
import type { KubeClient } from "../kube";
import { logger } from "../log";
import { checkGpuCapacity, gpuCandidateNodes, gpuKindOf, nodePlacementOf } from "../sandbox/gpu-capacity";
import type { RenderSettings } from "../sandbox/settings";
import type { ValidatedSandbox } from "../sandbox/validate";

const log = logger("gpu");

/** Pod lists in flight at once, so a cluster with many GPU nodes is read quickly but gently. */
const PARALLEL_NODE_READS = 4;

export async function ensureGpuCapacity(
  client: KubeClient,
  validated: ValidatedSandbox,
  settings: Pick<RenderSettings, "gpuCapacityCheck">,
): Promise<void> {
  const demand = validated.gpu;
  if (demand === undefined || settings.gpuCapacityCheck === "off") return;
  const { count } = demand;
  const kind = gpuKindOf(demand);
  try {
    const placement = nodePlacementOf(validated);
    const nodes = await client.listAll<V1Node>({ path: "/api/v1/nodes", resource: "nodes" });
    const candidates = gpuCandidateNodes(count, nodes, placement, kind);
    const pods: V1Pod[] = [];
    for (let i = 0; i < candidates.length; i += PARALLEL_NODE_READS) {
      const batch = candidates.slice(i, i + PARALLEL_NODE_READS);
      for (const onNode of await Promise.all(batch.map((node) => unfinishedPodsOn(client, node)))) pods.push(...onNode);
    }
    checkGpuCapacity(count, nodes, pods, placement, kind);
  } catch (err) {
    if (settings.gpuCapacityCheck !== "advisory") throw err;
    log.warn("GPU capacity check failed; accepting the sandbox anyway (--gpu-capacity-check=advisory)", {
      sandboxId: validated.sandbox.id,
      gpus: count,
      resource: demand.resource,
      reason: (err as Error)?.message ?? String(err),
    });
  }
}

function unfinishedPodsOn(client: KubeClient, node: V1Node): Promise<V1Pod[]> {
  const name = node.metadata?.name ?? "";
  return client.listAll<V1Pod>({
    path: "/api/v1/pods",
    // Pods in any namespace hold the node's GPUs; finished pods have released theirs.
    query: { fieldSelector: `spec.nodeName=${name},status.phase!=Succeeded,status.phase!=Failed` },
    resource: "pods",
  });
}
