// Asks the cluster whether the objects a sandbox refers to exist (see sandbox/references.ts). An
// object found a moment ago is taken as still there (RecentAnswers): a gateway creating a burst
// of sandboxes that share a claim or runtime class reads it once, not once per sandbox. A missing
// one is asked again every time, so creating it takes effect on the next call.
import { isKubeApiError, type KubeClient } from "../kube";
import { RecentAnswers } from "../kube/recent-answers";
import type { ClusterReference, ReferenceKind } from "../sandbox";
import { failedPrecondition } from "../sandbox/errors";

/** How long an object found stays found without asking again. */
const FOUND_RECENTLY_MS = 10_000;

const API: Record<ReferenceKind, { path: (namespace: string, name: string) => string; resource: string; namespaced: boolean }> = {
  RuntimeClass: { path: (_, n) => `/apis/node.k8s.io/v1/runtimeclasses/${n}`, resource: "runtimeclasses.node.k8s.io", namespaced: false },
  PriorityClass: { path: (_, n) => `/apis/scheduling.k8s.io/v1/priorityclasses/${n}`, resource: "priorityclasses.scheduling.k8s.io", namespaced: false },
  PersistentVolumeClaim: { path: (ns, n) => `/api/v1/namespaces/${ns}/persistentvolumeclaims/${n}`, resource: "persistentvolumeclaims", namespaced: true },
};

export class ClusterReferences {
  readonly #client: KubeClient;
  readonly #found: RecentAnswers<true>;

  constructor(client: KubeClient, now?: () => number) {
    this.#client = client;
    this.#found = new RecentAnswers<true>(FOUND_RECENTLY_MS, now);
  }

  /** Throws FAILED_PRECONDITION naming the request field of the first reference that does not exist. */
  async ensureExist(namespace: string, refs: ClusterReference[]): Promise<void> {
    await Promise.all(refs.map((ref) => this.#ensureExists(namespace, ref)));
  }

  async #ensureExists(namespace: string, ref: ClusterReference): Promise<void> {
    const api = API[ref.kind];
    const path = api.path(namespace, ref.name);
    try {
      await this.#found.get(path, async () => {
        await this.#client.request({
          verb: "get",
          path,
          resource: api.resource,
          name: ref.name,
          ...(api.namespaced ? { namespace } : {}),
        });
        return true;
      });
    } catch (err) {
      if (!isKubeApiError(err, 404)) throw err;
      const where = api.namespaced ? ` in namespace "${namespace}"` : "";
      throw failedPrecondition(ref.field, `${ref.kind} "${ref.name}" does not exist${where}`);
    }
  }
}
