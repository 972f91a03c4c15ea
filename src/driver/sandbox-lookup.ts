// Sandbox CRs as the API server has them right now, not as the cache last saw them: by sandbox id
// (a label-selected list of exactly that id, in the driver's namespace in shared mode, else
// cluster-wide, as upstream's `Api::all_with`) and by name. Writes act on what these return, and a
// cache miss is confirmed here before the gateway is told a sandbox does not exist.
import { isKubeApiError, type KubeClient } from "../kube";
import { sandboxIdOf, sandboxSelector, type SandboxResource } from "../sandbox";
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
    const scope = lookupNamespace(this.#settings);
    const list = await this.#client.request<{ items: SandboxResource[] }>({
      verb: "list",
      path: sandboxesPath(this.#settings.apiVersion, scope),
      query: { labelSelector: sandboxSelector(this.#settings.gatewayId, sandboxId) },
      resource: RESOURCE,
      ...(scope === undefined ? {} : { namespace: scope }),
    });
    return list.items
      .filter((item): item is FoundSandbox => Boolean(item.metadata?.name && item.metadata.namespace) && sandboxIdOf(item) === sandboxId)
      .sort((a, b) => createdMs(a) - createdMs(b));
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
