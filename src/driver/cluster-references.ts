// Asks the cluster whether the objects a sandbox refers to exist (see sandbox/references.ts).
import { isKubeApiError, type KubeClient } from "../kube";
import type { ClusterReference, ReferenceKind } from "../sandbox";
import { failedPrecondition } from "../sandbox/errors";

const API: Record<ReferenceKind, { path: (namespace: string, name: string) => string; resource: string; namespaced: boolean }> = {
  RuntimeClass: { path: (_, n) => `/apis/node.k8s.io/v1/runtimeclasses/${n}`, resource: "runtimeclasses.node.k8s.io", namespaced: false },
  PriorityClass: { path: (_, n) => `/apis/scheduling.k8s.io/v1/priorityclasses/${n}`, resource: "priorityclasses.scheduling.k8s.io", namespaced: false },
  PersistentVolumeClaim: { path: (ns, n) => `/api/v1/namespaces/${ns}/persistentvolumeclaims/${n}`, resource: "persistentvolumeclaims", namespaced: true },
};

export async function ensureReferencesExist(client: KubeClient, namespace: string, refs: ClusterReference[]): Promise<void> {
  await Promise.all(
    refs.map(async (ref) => {
      const api = API[ref.kind];
      try {
        await client.request({
          verb: "get",
          path: api.path(namespace, ref.name),
          resource: api.resource,
          name: ref.name,
          ...(api.namespaced ? { namespace } : {}),
        });
      } catch (err) {
        if (!isKubeApiError(err, 404)) throw err;
        const where = api.namespaced ? ` in namespace "${namespace}"` : "";
        throw failedPrecondition(ref.field, `${ref.kind} "${ref.name}" does not exist${where}`);
      }
    }),
  );
}
