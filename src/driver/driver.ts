// The driver once it is connected to a cluster: validation, the cache-backed reads, the writes
// and the watch fan-out, composed. The gRPC layer only checks request shape and maps errors.
import { Code, ConnectError } from "@connectrpc/connect";
import type { DriverSandbox, WatchSandboxesEvent } from "../gen/compute_driver_pb";
import type { KubeClient } from "../kube";
import { clusterReferences, validateSandbox } from "../sandbox";
import type { RenderSettings } from "../sandbox/settings";
import { ensureReferencesExist } from "./cluster-references";
import { ensureGpuCapacity } from "./gpu-capacity";
import { SandboxCache } from "./sandbox-cache";
import { SandboxOperations } from "./sandbox-operations";
import { WatchHub } from "./watch-hub";

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

  constructor(opts: SandboxDriverOptions) {
    this.settings = opts.settings;
    this.#client = opts.client;
    this.cache = new SandboxCache(opts.client, opts.settings, this.hub);
    this.#operations = new SandboxOperations(opts);
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
    await Promise.all([
      validated.gpuCount > 0 ? ensureGpuCapacity(this.#client, validated.gpuCount) : undefined,
      ensureReferencesExist(this.#client, this.settings.namespace, clusterReferences(validated, this.settings)),
    ]);
  }

  create(sandbox: DriverSandbox): Promise<void> {
    return this.#operations.create(sandbox);
  }

  get(sandboxId: string): DriverSandbox {
    this.#requireSynced();
    const sandbox = this.cache.get(sandboxId);
    if (!sandbox) throw new ConnectError(`sandbox ${sandboxId} not found`, Code.NotFound);
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

  async *watch(signal: AbortSignal): AsyncGenerator<WatchSandboxesEvent> {
    await this.cache.waitForSync(signal);
    // Snapshot and subscription happen in the same tick, so no change falls between them.
    yield* this.hub.subscribe(this.cache.snapshotEvents(), signal);
  }

  #requireSynced(): void {
    if (!this.cache.hasSynced()) {
      throw new ConnectError(`sandbox cache is not ready: ${this.cache.problem() ?? "syncing"}`, Code.Unavailable);
    }
  }
}
