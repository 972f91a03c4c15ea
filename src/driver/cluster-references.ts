// Asks the cluster whether the objects a sandbox refers to exist (see sandbox/references.ts). A
// class found a moment ago is taken as still there (RecentAnswers): a gateway creating a burst of
// sandboxes that share a runtime class reads it once, not once per sandbox. A missing one is asked
// again every time, so creating it takes effect on the next call. Claims are asked every time: the
// answer depends on their labels and owners (sandbox/claim-ownership.ts), and a remembered "found"
// would answer faster than a "missing", telling a caller by timing what it may not be told in words.
import { isKubeApiError, type KubeClient } from "../kube";
import { RecentAnswers } from "../kube/recent-answers";
import type { ClusterReference, ReferenceKind } from "../sandbox";
import { claimBelongsTo, claimUnavailable, type ClaimMetadata, type ClaimRequester } from "../sandbox/claim-ownership";
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

  /**
   * Throws FAILED_PRECONDITION naming the request field of the first reference that does not
   * exist, or, for a claim, that is not the requesting workspace's.
   */
  async ensureExist(namespace: string, refs: ClusterReference[], requester: ClaimRequester): Promise<void> {
    await Promise.all(
      refs.map((ref) => (ref.kind === "PersistentVolumeClaim" ? this.#ensureClaimMountable(namespace, ref, requester) : this.#ensureExists(namespace, ref))),
    );
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

  async #ensureClaimMountable(namespace: string, ref: ClusterReference, requester: ClaimRequester): Promise<void> {
    const api = API.PersistentVolumeClaim;
    let claim: { metadata?: ClaimMetadata };
    try {
      claim = await this.#client.request<{ metadata?: ClaimMetadata }>({
        verb: "get",
        path: api.path(namespace, ref.name),
        resource: api.resource,
        name: ref.name,
        namespace,
      });
    } catch (err) {
      if (!isKubeApiError(err, 404)) throw err;
      throw claimUnavailable(ref.field, ref.name, namespace, requester);
    }
    if (!claimBelongsTo(claim.metadata ?? {}, requester)) throw claimUnavailable(ref.field, ref.name, namespace, requester);
  }
}
