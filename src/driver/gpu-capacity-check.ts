// Reads what the pure GPU capacity check needs: every node, and every pod that may hold GPUs.
import type { V1Node, V1Pod } from "@kubernetes/client-node";
import type { KubeClient } from "../kube";
import { checkGpuCapacity } from "../sandbox";

export async function ensureGpuCapacity(client: KubeClient, count: number): Promise<void> {
  const [nodes, pods] = await Promise.all([
    client.request<{ items: V1Node[] }>({ verb: "list", path: "/api/v1/nodes", resource: "nodes" }),
    client.request<{ items: V1Pod[] }>({
      verb: "list",
      path: "/api/v1/pods",
      // Pods in any namespace hold node GPUs; finished pods release theirs.
      query: { fieldSelector: "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed" },
      resource: "pods",
    }),
  ]);
  checkGpuCapacity(count, nodes.items, pods.items);
}
