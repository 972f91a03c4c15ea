// Writes to an existing sandbox: stop, start and delete its Sandbox CR, by name. Where the CR is
// comes from the cache while it can vouch for it (SandboxLocator), so a write costs the write
// alone, not a lookup that makes the API server walk the fleet. The cache may be behind: every
// write carries the CR's UID, and one that finds the name gone (404) or held by another object
// (a UID conflict) asks the API server once and acts on what it says. Outside shared mode a
// sandbox may live in any workspace namespace, so every call uses the namespace the CR was found in.
import type { V1Pod } from "@kubernetes/client-node";
import { isKubeApiError, type KubeApiError, type KubeClient } from "../kube";
import { logger } from "../log";
import { isStopped, lifecyclePatch, sandboxSelector, stopRejection, type SandboxResource } from "../sandbox";
import type { RenderSettings } from "../sandbox/settings";
import { DriverError } from "./errors";
import { podsPath, sandboxesPath } from "./kube-paths";
import type { SandboxCache } from "./sandbox-cache";
import type { SandboxLocator, SandboxRef } from "./sandbox-locator";
import type { SandboxLookup } from "./sandbox-lookup";
import type { SandboxSideObjects } from "./side-objects-writer";

const log = logger("lifecycle");

interface ListOf<T> {
  items: T[];
}

export interface OperationsOptions {
  client: KubeClient;
  settings: RenderSettings;
  lookup: SandboxLookup;
  locator: SandboxLocator;
  /** For where a sandbox's pod is while the cache can vouch for it (SandboxCache.podOf). */
  cache: SandboxCache;
  /** What the platform added beside each sandbox that its garbage collection does not remove. */
  sideObjects: SandboxSideObjects;
  /** Upper bound for StopSandbox to see compute stopped. */
  stopTimeoutMs: number;
  /** First poll interval while waiting for a stop; doubles up to 2 s. */
  pollMs?: number;
}

/** A write by name that found the name gone, or held by an object other than the one it was meant for. */
const MOVED = Symbol("moved");

export class SandboxOperations {
  readonly #client: KubeClient;
  readonly #settings: RenderSettings;
  readonly #stopTimeoutMs: number;
  readonly #pollMs: number;
  readonly #lookup: SandboxLookup;
  readonly #locator: SandboxLocator;
  readonly #cache: SandboxCache;
  readonly #sideObjects: SandboxSideObjects;

  constructor(opts: OperationsOptions) {
    this.#client = opts.client;
    this.#settings = opts.settings;
    this.#lookup = opts.lookup;
    this.#locator = opts.locator;
    this.#cache = opts.cache;
    this.#sideObjects = opts.sideObjects;
    this.#stopTimeoutMs = opts.stopTimeoutMs;
    this.#pollMs = opts.pollMs ?? 250;
  }

  async stop(sandboxId: string, signal: AbortSignal): Promise<void> {
    const { cr, patched } = await this.#patchLifecycle(sandboxId, false, "stop");
    const { name, namespace } = cr.metadata;
    const deadline = Date.now() + this.#stopTimeoutMs;
    let wait = this.#pollMs;
    let lastState = "no status yet";
    // The patch's answer is the CR as it is now: an already stopped sandbox needs no second read.
    let current: SandboxResource | undefined = patched;
    while (true) {
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
      current = await this.#lookup.byName(namespace, name);
    }
  }

  async start(sandboxId: string): Promise<void> {
    const { cr } = await this.#patchLifecycle(sandboxId, true, "start");
    const { name, namespace } = cr.metadata;
    log.info("sandbox start requested", { sandboxId, name, namespace });
  }

  /**
   * true when this call deleted the sandbox (or found its deletion under way), false when it was
   * absent. Every CR carrying the id goes: the gateway waits for the id's `deleted` event, which
   * comes only once none is left.
   */
  async delete(sandboxId: string): Promise<boolean> {
    let located = await this.#locator.find(sandboxId);
    for (let attempt = 0; attempt < 3; attempt++) {
      let deleted = located.crs.some((cr) => cr.metadata.deletionTimestamp);
      let moved = false;
      for (const cr of located.crs) {
        if (cr.metadata.deletionTimestamp) continue;
        const outcome = await this.#deleteOne(sandboxId, cr);
        if (outcome === "deleted") deleted = true;
        // Gone already is the end of it when the API server just said it held this CR; when
        // only the cache did, another CR may carry the id by now.
        if (outcome === "replaced" || (outcome === "absent" && located.cached)) moved = true;
      }
      if (!moved) return deleted;
      located = { crs: await this.#locator.live(sandboxId), cached: false };
    }
    throw new DriverError("Aborted", `sandbox ${sandboxId} kept changing identity while deleting; retry`);
  }

  async #deleteOne(sandboxId: string, cr: SandboxRef): Promise<"deleted" | "absent" | "replaced"> {
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

  /**
   * Patches the lifecycle of the oldest CR carrying the id (where upstream's lookup picks it too),
   * once more after one live lookup when the cache's answer had moved on. Returns the CR and the
   * patch's answer.
   */
  async #patchLifecycle(sandboxId: string, running: boolean, action: "stop" | "start"): Promise<{ cr: SandboxRef; patched: SandboxResource }> {
    let located = await this.#locator.find(sandboxId);
    for (let attempt = 0; ; attempt++) {
      const cr = located.crs[0];
      if (!cr) throw new DriverError("NotFound", `sandbox ${sandboxId} not found (cannot ${action})`);
      if (running && cr.metadata.deletionTimestamp) {
        throw new DriverError("FailedPrecondition", `sandbox ${sandboxId} is being deleted and cannot start`);
      }
      const patched = await this.#patchOne(cr, running);
      if (patched !== MOVED) {
        if (running && patched.metadata.deletionTimestamp) {
          throw new DriverError("FailedPrecondition", `sandbox ${sandboxId} is being deleted and cannot start`);
        }
        return { cr, patched };
      }
      if (attempt >= 1) throw new DriverError("Aborted", `sandbox ${sandboxId} kept changing identity while trying to ${action} it; retry`);
      located = { crs: await this.#locator.live(sandboxId), cached: false };
    }
  }

  async #patchOne(cr: SandboxRef, running: boolean): Promise<SandboxResource | typeof MOVED> {
    const { name, namespace, uid } = cr.metadata;
    // A merge patch carries no resourceVersion, so it cannot conflict; retry anyway if an
    // admission plugin or webhook reports a conflict.
    for (let attempt = 0; ; attempt++) {
      try {
        const patched = await this.#client.request<SandboxResource>({
          verb: "patch",
          patchType: "merge",
          path: `${sandboxesPath(this.#settings.apiVersion, namespace)}/${name}`,
          // The UID makes the patch apply to this object only: on another object of the same
          // name, metadata.uid is immutable and the API server refuses the patch (422).
          body: withUid(lifecyclePatch(this.#settings.apiVersion, running), uid),
          resource: "sandboxes.agents.x-k8s.io",
          namespace,
          name,
        });
        this.#locator.wrote(patched);
        return patched;
      } catch (err) {
        if (isKubeApiError(err, 404) || uidRefused(err)) return MOVED;
        if (!isKubeApiError(err, 409) || attempt >= 4) throw err;
        await sleep(100 * 2 ** attempt);
      }
    }
  }

  /**
   * The pods of the sandbox: the cache's while it can vouch for what it holds (a pod it still
   * shows after its deletion only means one more poll), otherwise a label-selected list.
   */
  async #podsOf(namespace: string, sandboxId: string): Promise<Pick<V1Pod, "metadata">[]> {
    if (this.#cache.sandboxesSeenAt() !== undefined) {
      const key = this.#cache.podOf(sandboxId);
      return key ? [{ metadata: { name: key.name, namespace: key.namespace } }] : [];
    }
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

function withUid(patch: object, uid: string | undefined): object {
  return uid === undefined ? patch : { ...patch, metadata: { uid } };
}

/** The API server's answer to a patch whose metadata.uid is not the object's: the field is immutable. */
function uidRefused(err: unknown): err is KubeApiError {
  return isKubeApiError(err, 422) && /metadata\.uid/.test(err.detail);
}

function describeStopState(cr: SandboxResource, pods: Pick<V1Pod, "metadata">[]): string {
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
