// Sandbox CRs as the API server has them, not as the driver's cache last saw them: by sandbox id
// (a label-selected list of exactly that id, in the driver's namespace in shared mode, else
// cluster-wide, as upstream's `Api::all_with`) and by name. Writes fall back to these when the
// cache cannot vouch for an id, and a cache miss is confirmed here before the gateway is told a
// sandbox does not exist.
import { isKubeApiError, type KubeClient } from "../kube";
import { LABEL_SANDBOX_ID, sandboxIdOf, sandboxesSelector, type SandboxResource } from "../sandbox";
import type { RenderSettings } from "../sandbox/settings";
import { lookupNamespace, sandboxesPath } from "./kube-paths";

/** A Sandbox CR as found by a lookup: where it is and which object it is. */
export type FoundSandbox = SandboxResource & { metadata: { name: string; namespace: string; uid?: string } };

const RESOURCE = "sandboxes.agents.x-k8s.io";

export class SandboxLookup {
  readonly #client: KubeClient;
  readonly #settings: Pick<RenderSettings, "apiVersion" | "gatewayId" | "workspaceMode" | "namespace">;

  constructor(client: KubeClient, settings: Pick<RenderSettings, "apiVersion" | "gatewayId" | "workspaceMode" | "namespace">) {
    this.#client = client;
    this.#settings = settings;
  }

  /**
   * The CRs of this gateway carrying exactly `sandboxId`, oldest first. Normally at most one;
   * more only if something other than this driver created a second one.
   */
  async byId(sandboxId: string): Promise<FoundSandbox[]> {
    return (await this.byIds([sandboxId])).get(sandboxId)!;
  }

  /** As byId for each of `sandboxIds`, in one LIST (`sandbox-id in (…)`); every id has an entry. */
  byIds(sandboxIds: readonly string[]): Promise<Map<string, FoundSandbox[]>> {
    return this.#list(sandboxIds, {});
  }

  /**
   * As byIds, read from the API server's watch cache at a resourceVersion no older than
   * `notOlderThan`: what the driver's cache had seen when it missed, or the driver's own last
   * write if that is newer, so a sandbox this driver just created is never missed.
   *
   * Why this read and not a consistent one (no resourceVersion): kube-apiserver answers
   * `resourceVersionMatch=NotOlderThan` from its watch cache and never from etcd (cacher
   * delegator, `ShouldDelegateList`), waiting only if its cache is behind that version, which it
   * is not, since the driver's own watch came from it. Its cost is matching the id label against
   * the objects in the watch cache's memory: no etcd range, no object decoded or encoded. A
   * consistent list is also served from the watch cache since 1.31 (ConsistentListFromCache), but
   * it first asks etcd for its current revision and then waits for the watch cache to reach it,
   * which, on a collection no one is writing, takes until the next progress notification the API
   * server requests from etcd, every 100 ms (`progressRequestPeriod`). With a `limit` and no
   * resourceVersion, servers before 1.34 read pages from etcd, decoding every object until one
   * matches: the fleet-wide scan this avoids. What this read can miss is what the API server's
   * watch cache had not received from etcd when it answered (milliseconds), from a writer other
   * than this driver.
   */
  byIdsNotOlderThan(sandboxIds: readonly string[], notOlderThan: string): Promise<Map<string, FoundSandbox[]>> {
    return this.#list(sandboxIds, { resourceVersion: notOlderThan, resourceVersionMatch: "NotOlderThan" });
  }

  async #list(sandboxIds: readonly string[], version: { resourceVersion?: string; resourceVersionMatch?: string }): Promise<Map<string, FoundSandbox[]>> {
    const scope = lookupNamespace(this.#settings);
    const list = await this.#client.request<{ items: SandboxResource[] }>({
      verb: "list",
      path: sandboxesPath(this.#settings.apiVersion, scope),
      query: { labelSelector: sandboxesSelector(this.#settings.gatewayId, sandboxIds), ...version },
      resource: RESOURCE,
      ...(scope === undefined ? {} : { namespace: scope }),
    });
    const byId = new Map<string, FoundSandbox[]>(sandboxIds.map((id) => [id, []]));
    for (const item of list.items) {
      // Listed by its id label; it is that sandbox only if the id it answers to is the same.
      const id = item.metadata?.labels?.[LABEL_SANDBOX_ID];
      if (!item.metadata?.name || !item.metadata.namespace || id === undefined || sandboxIdOf(item) !== id) continue;
      byId.get(id)?.push(item as FoundSandbox);
    }
    for (const crs of byId.values()) crs.sort((a, b) => createdMs(a) - createdMs(b));
    return byId;
  }

  /** The CR of that name, or undefined when there is none. */
  async byName(namespace: string, name: string): Promise<SandboxResource | undefined> {
    try {
      return await this.#client.request<SandboxResource>({
        verb: "get",
        path: `${sandboxesPath(this.#settings.apiVersion, namespace)}/${name}`,
        resource: RESOURCE,
        namespace,
        name,
      });
    } catch (err) {
      if (isKubeApiError(err, 404)) return undefined;
      throw err;
    }
  }
}

function createdMs(cr: SandboxResource): number {
  const created = cr.metadata.creationTimestamp;
  return created === undefined ? 0 : new Date(created).getTime();
}
