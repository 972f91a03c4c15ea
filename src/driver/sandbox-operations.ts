// Writes to an existing sandbox: stop, start and delete its Sandbox CR. Lookups for writes go to
// the API server (SandboxLookup), not the cache, so a write never acts on stale state. Outside
// shared mode a sandbox may live in any workspace namespace, so every call after the lookup uses
// the namespace the CR was found in.
import type { V1Pod } from "@kubernetes/client-node";
import { isKubeApiError, type KubeClient } from "../kube";
import { logger } from "../log";
import { isStopped, lifecyclePatch, sandboxSelector, stopRejection, type SandboxResource } from "../sandbox";
import type { RenderSettings } from "../sandbox/settings";
import { DriverError } from "./errors";
import { podsPath, sandboxesPath } from "./kube-paths";
import type { FoundSandbox, SandboxLookup } from "./sandbox-lookup";
import type { SandboxSideObjects } from "./side-objects-writer";

const log = logger("lifecycle");

interface ListOf<T> {
  items: T[];
}

export interface OperationsOptions {
  client: KubeClient;
  settings: RenderSettings;
  lookup: SandboxLookup;
  /** What the platform added beside each sandbox that its garbage collection does not remove. */
  sideObjects: SandboxSideObjects;
  /** Upper bound for StopSandbox to see compute stopped. */
  stopTimeoutMs: number;
  /** First poll interval while waiting for a stop; doubles up to 2 s. */
  pollMs?: number;
}

export class SandboxOperations {
  readonly #client: KubeClient;
  readonly #settings: RenderSettings;
  readonly #stopTimeoutMs: number;
  readonly #pollMs: number;
  readonly #lookup: SandboxLookup;
  readonly #sideObjects: SandboxSideObjects;

  constructor(opts: OperationsOptions) {
    this.#client = opts.client;
    this.#settings = opts.settings;
    this.#lookup = opts.lookup;
    this.#sideObjects = opts.sideObjects;
    this.#stopTimeoutMs = opts.stopTimeoutMs;
    this.#pollMs = opts.pollMs ?? 250;
  }

  async stop(sandboxId: string, signal: AbortSignal): Promise<void> {
    const cr = await this.#require(sandboxId, "stop");
    const { name, namespace } = cr.metadata;
    await this.#patchLifecycle(namespace, name, false);
    const deadline = Date.now() + this.#stopTimeoutMs;
    let wait = this.#pollMs;
    let lastState = "no status yet";
    while (true) {
      const current = await this.#lookup.byName(namespace, name);
      if (!current) throw new DriverError("NotFound", `sandbox ${sandboxId} was deleted while stopping`);
      const rejection = stopRejection(current);
      if (rejection) throw new DriverError("FailedPrecondition", `sandbox ${sandboxId} cannot stop: ${rejection}`);
      const pods = await this.#podsOf(namespace, sandboxId);
      if (pods.length === 0 && isStopped(current, false)) {
        log.info("sandbox stopped", { sandboxId, name, namespace });
        return;
      }
      lastState = describeStopState(current, pods);
      if (Date.now() + wait > deadline) {
        throw new DriverError(
          "DeadlineExceeded",
          `timed out after ${Math.round(this.#stopTimeoutMs / 1000)}s waiting for sandbox ${sandboxId} to stop (${lastState})`,
        );
      }
      await sleep(wait, signal);
      wait = Math.min(wait * 2, 2000);
    }
  }

  async start(sandboxId: string): Promise<void> {
    const cr = await this.#require(sandboxId, "start");
    if (cr.metadata.deletionTimestamp) {
      throw new DriverError("FailedPrecondition", `sandbox ${sandboxId} is being deleted and cannot start`);
    }
    const { name, namespace } = cr.metadata;
    await this.#patchLifecycle(namespace, name, true);
    log.info("sandbox start requested", { sandboxId, name, namespace });
  }

  /**
   * true when this call deleted the sandbox (or found its deletion under way), false when it was
   * absent. Every CR carrying the id goes: the gateway waits for the id's `deleted` event, which
   * comes only once none is left.
   */
  async delete(sandboxId: string): Promise<boolean> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const found = await this.#lookup.byId(sandboxId);
      let deleted = found.some((cr) => cr.metadata.deletionTimestamp);
      let replaced = false;
      for (const cr of found) {
        if (cr.metadata.deletionTimestamp) continue;
        const outcome = await this.#deleteOne(sandboxId, cr);
        if (outcome === "deleted") deleted = true;
        if (outcome === "replaced") replaced = true;
      }
      if (!replaced) return deleted;
    }
    throw new DriverError("Aborted", `sandbox ${sandboxId} kept changing identity while deleting; retry`);
  }

  async #deleteOne(sandboxId: string, cr: FoundSandbox): Promise<"deleted" | "absent" | "replaced"> {
    const { name, namespace } = cr.metadata;
    try {
      // Precondition on the UID only: a controller's status write between our lookup and the
      // delete bumps resourceVersion but must not make us skip the delete.
      await this.#client.request({
        verb: "delete",
        path: `${sandboxesPath(this.#settings.apiVersion, namespace)}/${name}`,
        body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Background", preconditions: { uid: cr.metadata.uid } },
        resource: "sandboxes.agents.x-k8s.io",
        namespace,
        name,
      });
      log.info("sandbox deleted", { sandboxId, name, namespace });
      await this.#sideObjects.forget(cr);
      return "deleted";
    } catch (err) {
      if (isKubeApiError(err, 404)) return "absent";
      // 409: the name now belongs to a different object (UID mismatch); look again.
      if (isKubeApiError(err, 409)) return "replaced";
      throw err;
    }
  }

  async #patchLifecycle(namespace: string, name: string, running: boolean): Promise<void> {
    // A merge patch carries no resourceVersion, so it cannot conflict; retry anyway if an
    // admission plugin or webhook reports a conflict.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#client.request({
          verb: "patch",
          patchType: "merge",
          path: `${sandboxesPath(this.#settings.apiVersion, namespace)}/${name}`,
          body: lifecyclePatch(this.#settings.apiVersion, running),
          resource: "sandboxes.agents.x-k8s.io",
          namespace,
          name,
        });
        return;
      } catch (err) {
        if (!isKubeApiError(err, 409) || attempt >= 4) throw err;
        await sleep(100 * 2 ** attempt);
      }
    }
  }

  async #require(sandboxId: string, action: string): Promise<FoundSandbox> {
    const [cr] = await this.#lookup.byId(sandboxId);
    if (!cr) throw new DriverError("NotFound", `sandbox ${sandboxId} not found (cannot ${action})`);
    return cr;
  }

  async #podsOf(namespace: string, sandboxId: string): Promise<V1Pod[]> {
    const list = await this.#client.request<ListOf<V1Pod>>({
      verb: "list",
      path: podsPath(namespace),
      query: { labelSelector: sandboxSelector(this.#settings.gatewayId, sandboxId) },
      resource: "pods",
      namespace,
    });
    return list.items;
  }
}

function describeStopState(cr: SandboxResource, pods: V1Pod[]): string {
  const suspended = cr.status?.conditions?.find((c) => c.type === "Suspended");
  const condition = suspended ? `Suspended=${suspended.status}${suspended.reason ? ` (${suspended.reason})` : ""}` : "no Suspended condition";
  return pods.length > 0 ? `${condition}; pod ${pods[0]?.metadata?.name} still present` : condition;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new DriverError("Canceled", "request cancelled"));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new DriverError("Canceled", "request cancelled"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
