// Writes to the cluster: create, stop, start and delete one Sandbox CR. Lookups for writes go to
// the API server (by the sandbox-id label), not the cache, so a write never acts on stale state.
// Outside shared mode a sandbox may live in any workspace namespace, so the lookup spans the
// cluster and every later call uses the namespace the CR was found in (upstream `Api::all_with`).
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
import { DriverError } from "./errors";
import { lookupNamespace, podsPath, sandboxesPath } from "./kube-paths";
import type { WorkspaceNamespaces } from "./workspace-namespaces";

const log = logger("lifecycle");

interface ListOf<T> {
  items: T[];
}

/** A Sandbox CR as found by a lookup: where it is and which object it is. */
type FoundSandbox = SandboxResource & { metadata: { name: string; namespace: string; uid?: string } };

export interface OperationsOptions {
  client: KubeClient;
  settings: RenderSettings;
  namespaces: WorkspaceNamespaces;
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
  readonly #namespaces: WorkspaceNamespaces;

  constructor(opts: OperationsOptions) {
    this.#client = opts.client;
    this.#settings = opts.settings;
    this.#namespaces = opts.namespaces;
    this.#stopTimeoutMs = opts.stopTimeoutMs;
    this.#pollMs = opts.pollMs ?? 250;
  }

  async create(sandbox: DriverSandbox): Promise<void> {
    const validated = validateSandbox(sandbox, this.#settings);
    for (const warning of validated.warnings) log.warn(warning, { sandboxId: sandbox.id });
    const { kubeName: name, namespace } = validated;
    // Managed mode creates the namespace (and what sandboxes need in it) first, as upstream does.
    const namespaceAnnotations = await this.#namespaces.prepare(sandbox.workspace, "sandbox.workspace");
    const resource = renderSandbox(validated, this.#settings, namespaceAnnotations);
    try {
      await this.#client.request({
        verb: "create",
        path: sandboxesPath(this.#settings.apiVersion, namespace),
        body: resource,
        resource: "sandboxes.agents.x-k8s.io",
        namespace,
        name,
      });
      log.info("sandbox created", { sandboxId: sandbox.id, name, namespace });
    } catch (err) {
      if (!isKubeApiError(err, 409)) throw err;
      // The gateway may retry a create whose reply it lost: the same id already there is success.
      const existing = await this.#getByName(namespace, name);
      if (existing && sandboxIdOf(existing) === sandbox.id) {
        log.info("sandbox already exists with the same id; create is idempotent", { sandboxId: sandbox.id, name, namespace });
        return;
      }
      throw new DriverError("AlreadyExists", `sandbox "${name}" already exists in namespace "${namespace}" for a different sandbox id`);
    }
  }

  async stop(sandboxId: string, signal: AbortSignal): Promise<void> {
    const cr = await this.#require(sandboxId, "stop");
    const { name, namespace } = cr.metadata;
    await this.#patchLifecycle(namespace, name, false);
    const deadline = Date.now() + this.#stopTimeoutMs;
    let wait = this.#pollMs;
    let lastState = "no status yet";
    while (true) {
      const current = await this.#getByName(namespace, name);
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

  /** true when this call deleted the CR (or found its deletion under way), false when absent. */
  async delete(sandboxId: string): Promise<boolean> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const cr = await this.#find(sandboxId);
      if (!cr) return false;
      if (cr.metadata.deletionTimestamp) return true;
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
        return true;
      } catch (err) {
        if (isKubeApiError(err, 404)) return false;
        // 409: the name now belongs to a different object (UID mismatch); look again.
        if (!isKubeApiError(err, 409)) throw err;
      }
    }
    throw new DriverError("Aborted", `sandbox ${sandboxId} kept changing identity while deleting; retry`);
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
    const cr = await this.#find(sandboxId);
    if (!cr) throw new DriverError("NotFound", `sandbox ${sandboxId} not found (cannot ${action})`);
    return cr;
  }

  async #find(sandboxId: string): Promise<FoundSandbox | undefined> {
    const scope = lookupNamespace(this.#settings);
    const list = await this.#client.request<ListOf<SandboxResource>>({
      verb: "list",
      path: sandboxesPath(this.#settings.apiVersion, scope),
      query: { labelSelector: sandboxSelector(this.#settings.gatewayId, sandboxId) },
      resource: "sandboxes.agents.x-k8s.io",
      ...(scope === undefined ? {} : { namespace: scope }),
    });
    const cr = list.items.find((item) => item.metadata?.name && item.metadata.namespace);
    return cr as FoundSandbox | undefined;
  }

  async #getByName(namespace: string, name: string): Promise<SandboxResource | undefined> {
    try {
      return await this.#client.request<SandboxResource>({
        verb: "get",
        path: `${sandboxesPath(this.#settings.apiVersion, namespace)}/${name}`,
        resource: "sandboxes.agents.x-k8s.io",
        namespace,
        name,
      });
    } catch (err) {
      if (isKubeApiError(err, 404)) return undefined;
      throw err;
    }
  }

  async #podsOf(namespace: string, sandboxId: string): Promise<V1Pod[]> {
    const list = await this.#client.request<ListOf<V1Pod>>({
      verb: "list",
      path: podsPath(namespace),
      query: { labelSelector: `${LABEL_SANDBOX_ID}=${sandboxId}` },
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
