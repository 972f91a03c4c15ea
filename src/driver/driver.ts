// The driver once it is connected to a cluster: validation, the cache-backed reads, the writes,
// the workspace namespaces and the watch fan-out, composed. The gRPC layer only checks request
// shape and maps errors.
import type { DriverSandbox, WatchSandboxesEvent } from "../gen/compute_driver_pb";
import type { KubeClient } from "../kube";
import { checkSidecarProxyIdentity, clusterReferences, resolveSandboxIdentity, validateSandbox } from "../sandbox";
import type { RenderSettings } from "../sandbox/settings";
import { ensureReferencesExist } from "./cluster-references";
import { DriverError } from "./errors";
import { ensureGpuCapacity } from "./gpu-capacity-check";
import { SandboxCache } from "./sandbox-cache";
import { SandboxOperations } from "./sandbox-operations";
import { WatchHub } from "./watch-hub";
import { WorkspaceNamespaces } from "./workspace-namespaces";

export interface SandboxDriverOptions {
  client: KubeClient;
  settings: RenderSettings;
  stopTimeoutMs: number;
}

export class SandboxDriver {
  readonly settings: RenderSettings;
  readonly hub = new WatchHub();
  readonly cache: SandboxCache;
  readonly #client: KubeClient;
  readonly #operations: SandboxOperations;
  readonly #namespaces: WorkspaceNamespaces;

  constructor(opts: SandboxDriverOptions) {
    this.settings = opts.settings;
    this.#client = opts.client;
    this.cache = new SandboxCache(opts.client, opts.settings, this.hub);
    this.#namespaces = new WorkspaceNamespaces(opts.client, opts.settings);
    this.#operations = new SandboxOperations({ ...opts, namespaces: this.#namespaces });
  }

  start(): void {
    this.cache.start();
  }

  async stop(): Promise<void> {
    this.hub.closeAll();
    await this.cache.stop();
  }

  /** Everything CreateSandbox would reject, without writing anything. */
  async validate(sandbox: DriverSandbox): Promise<void> {
    const validated = validateSandbox(sandbox, this.settings);
    // First, so a missing workspace namespace is reported as that, not as the claims missing in it.
    const namespaceAnnotations = await this.#namespaces.check(sandbox.workspace, "sandbox.workspace");
    // The sandbox identity comes from the namespace; the sidecar proxy must not share it.
    checkSidecarProxyIdentity(this.settings, resolveSandboxIdentity(this.settings, namespaceAnnotations));
    await Promise.all([
      validated.gpuCount > 0 ? ensureGpuCapacity(this.#client, validated.gpuCount) : undefined,
      ensureReferencesExist(this.#client, validated.namespace, clusterReferences(validated, this.settings)),
    ]);
  }

  create(sandbox: DriverSandbox): Promise<void> {
    return this.#operations.create(sandbox);
  }

  get(sandboxId: string): DriverSandbox {
    this.#requireSynced();
    const sandbox = this.cache.get(sandboxId);
    if (!sandbox) throw new DriverError("NotFound", `sandbox ${sandboxId} not found`);
    return sandbox;
  }

  list(): DriverSandbox[] {
    this.#requireSynced();
    return this.cache.list();
  }

  stopSandbox(sandboxId: string, signal: AbortSignal): Promise<void> {
    return this.#operations.stop(sandboxId, signal);
  }

  startSandbox(sandboxId: string): Promise<void> {
    return this.#operations.start(sandboxId);
  }

  deleteSandbox(sandboxId: string): Promise<boolean> {
    return this.#operations.delete(sandboxId);
  }

  ensureWorkspace(workspace: string): Promise<void> {
    return this.#namespaces.ensure(workspace);
  }

  deleteWorkspace(workspace: string): Promise<void> {
    return this.#namespaces.delete(workspace);
  }

  async *watch(signal: AbortSignal): AsyncGenerator<WatchSandboxesEvent> {
    await this.cache.waitForSync(signal);
    yield* this.hub.subscribe(() => this.cache.snapshotEvents(), signal);
  }

  #requireSynced(): void {
    if (!this.cache.hasSynced()) {
      throw new DriverError("Unavailable", `sandbox cache is not ready: ${this.cache.problem() ?? "syncing"}`);
    }
  }
}
