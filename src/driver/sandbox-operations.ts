// Writes to the cluster: create, stop, start and delete one Sandbox CR. Lookups for writes go to
// the API server (by the sandbox-id label), not the cache, so a write never acts on stale state.
import { Code, ConnectError } from "@connectrpc/connect";
import type { V1Pod } from "@kubernetes/client-node";
import type { DriverSandbox } from "../gen/compute_driver_pb";
import { isKubeApiError, type KubeClient } from "../kube";
import { logger } from "../log";
import {
  isStopped,
  lifecyclePatch,
  renderSandbox,
  sandboxIdOf,
  sandboxSelector,
  stopRejection,
  validateSandbox,
  type SandboxResource,
} from "../sandbox";
import { LABEL_SANDBOX_ID } from "../sandbox/labels";
import type { RenderSettings } from "../sandbox/settings";
import { sandboxesPath } from "./sandbox-cache";

const log = logger("lifecycle");

interface ListOf<T> {
  items: T[];
}

export interface OperationsOptions {
  client: KubeClient;
  settings: RenderSettings;
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
  readonly #path: string;

  constructor(opts: OperationsOptions) {
    this.#client = opts.client;
    this.#settings = opts.settings;
    this.#stopTimeoutMs = opts.stopTimeoutMs;
    this.#pollMs = opts.pollMs ?? 250;
    this.#path = sandboxesPath(opts.settings);
  }

  async create(sandbox: DriverSandbox): Promise<void> {
    const validated = validateSandbox(sandbox, this.#settings);
    const resource = renderSandbox(validated, this.#settings);
    const name = validated.kubeName;
    try {
      await this.#client.request({
        verb: "create",
        path: this.#path,
        body: resource,
        resource: "sandboxes.agents.x-k8s.io",
        namespace: this.#settings.namespace,
        name,
      });
      log.info("sandbox created", { sandboxId: sandbox.id, name, namespace: this.#settings.namespace });
    } catch (err) {
      if (!isKubeApiError(err, 409)) throw err;
      // The gateway may retry a create whose reply it lost: the same id already there is success.
      const existing = await this.#getByName(name);
      if (existing && sandboxIdOf(existing) === sandbox.id) {
        log.info("sandbox already exists with the same id; create is idempotent", { sandboxId: sandbox.id, name });
        return;
      }
      throw new ConnectError(
        `sandbox "${name}" already exists in namespace "${this.#settings.namespace}" for a different sandbox id`,
        Code.AlreadyExists,
      );
    }
  }

  async stop(sandboxId: string, signal: AbortSignal): Promise<void> {
    const cr = await this.#require(sandboxId, "stop");
    const name = cr.metadata.name;
    await this.#patchLifecycle(name, false);
    const deadline = Date.now() + this.#stopTimeoutMs;
    let wait = this.#pollMs;
    let lastState = "no status yet";
    while (true) {
      const current = await this.#getByName(name);
      if (!current) throw new ConnectError(`sandbox ${sandboxId} was deleted while stopping`, Code.NotFound);
      const rejection = stopRejection(current);
      if (rejection) throw new ConnectError(`sandbox ${sandboxId} cannot stop: ${rejection}`, Code.FailedPrecondition);
      const pods = await this.#podsOf(sandboxId);
      if (pods.length === 0 && isStopped(current, false)) {
        log.info("sandbox stopped", { sandboxId, name });
        return;
      }
      lastState = describeStopState(current, pods);
      if (Date.now() + wait > deadline) {
        throw new ConnectError(
          `timed out after ${Math.round(this.#stopTimeoutMs / 1000)}s waiting for sandbox ${sandboxId} to stop (${lastState})`,
          Code.DeadlineExceeded,
        );
      }
      await sleep(wait, signal);
      wait = Math.min(wait * 2, 2000);
    }
  }

  async start(sandboxId: string): Promise<void> {
    const cr = await this.#require(sandboxId, "start");
    if (cr.metadata.deletionTimestamp) {
      throw new ConnectError(`sandbox ${sandboxId} is being deleted and cannot start`, Code.FailedPrecondition);
    }
    await this.#patchLifecycle(cr.metadata.name, true);
    log.info("sandbox start requested", { sandboxId, name: cr.metadata.name });
  }

  /** true when this call deleted the CR (or found its deletion under way), false when absent. */
  async delete(sandboxId: string): Promise<boolean> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const cr = await this.#find(sandboxId);
      if (!cr) return false;
      if (cr.metadata.deletionTimestamp) return true;
      try {
        // Precondition on the UID only: a controller's status write between our lookup and the
        // delete bumps resourceVersion but must not make us skip the delete.
        await this.#client.request({
          verb: "delete",
          path: `${this.#path}/${cr.metadata.name}`,
          body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Background", preconditions: { uid: cr.metadata.uid } },
          resource: "sandboxes.agents.x-k8s.io",
          namespace: this.#settings.namespace,
          name: cr.metadata.name,
        });
        log.info("sandbox deleted", { sandboxId, name: cr.metadata.name });
        return true;
      } catch (err) {
        if (isKubeApiError(err, 404)) return false;
        // 409: the name now belongs to a different object (UID mismatch); look again.
        if (!isKubeApiError(err, 409)) throw err;
      }
    }
    throw new ConnectError(`sandbox ${sandboxId} kept changing identity while deleting; retry`, Code.Aborted);
  }

  async #patchLifecycle(name: string, running: boolean): Promise<void> {
    // A merge patch carries no resourceVersion, so it cannot conflict; retry anyway if an
    // admission plugin or webhook reports a conflict.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#client.request({
          verb: "patch",
          patchType: "merge",
          path: `${this.#path}/${name}`,
          body: lifecyclePatch(this.#settings.apiVersion, running),
          resource: "sandboxes.agents.x-k8s.io",
          namespace: this.#settings.namespace,
          name,
        });
        return;
      } catch (err) {
        if (!isKubeApiError(err, 409) || attempt >= 4) throw err;
        await sleep(100 * 2 ** attempt);
      }
    }
  }

  async #require(sandboxId: string, action: string): Promise<SandboxResource & { metadata: { name: string } }> {
    const cr = await this.#find(sandboxId);
    if (!cr) throw new ConnectError(`sandbox ${sandboxId} not found (cannot ${action})`, Code.NotFound);
    return cr;
  }

  async #find(sandboxId: string): Promise<(SandboxResource & { metadata: { name: string; uid?: string } }) | undefined> {
    const list = await this.#client.request<ListOf<SandboxResource>>({
      verb: "list",
      path: this.#path,
      query: { labelSelector: sandboxSelector(this.#settings.gatewayId, sandboxId) },
      resource: "sandboxes.agents.x-k8s.io",
      namespace: this.#settings.namespace,
    });
    const cr = list.items.find((item) => item.metadata?.name);
    return cr as (SandboxResource & { metadata: { name: string; uid?: string } }) | undefined;
  }

  async #getByName(name: string): Promise<SandboxResource | undefined> {
    try {
      return await this.#client.request<SandboxResource>({
        verb: "get",
        path: `${this.#path}/${name}`,
        resource: "sandboxes.agents.x-k8s.io",
        namespace: this.#settings.namespace,
        name,
      });
    } catch (err) {
      if (isKubeApiError(err, 404)) return undefined;
      throw err;
    }
  }

  async #podsOf(sandboxId: string): Promise<V1Pod[]> {
    const list = await this.#client.request<ListOf<V1Pod>>({
      verb: "list",
      path: `/api/v1/namespaces/${this.#settings.namespace}/pods`,
      query: { labelSelector: `${LABEL_SANDBOX_ID}=${sandboxId}` },
      resource: "pods",
      namespace: this.#settings.namespace,
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
    if (signal?.aborted) return reject(new ConnectError("request cancelled", Code.Canceled));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ConnectError("request cancelled", Code.Canceled));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
