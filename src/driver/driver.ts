// The driver once it is connected to a cluster: validation, the cache-backed reads, the writes,
// the workspace namespaces and the watch fan-out, composed. The gRPC layer only checks request
// shape and maps errors.
import { create } from "@bufbuild/protobuf";
import {
  GetSandboxResponseSchema,
  ListSandboxesResponseSchema,
  type DriverSandbox,
  type GetSandboxResponse,
  type ListSandboxesResponse,
  type WatchSandboxesEvent,
} from "../gen/compute_driver_pb";
import type { KubeClient } from "../kube";
import { logger } from "../log";
import type { PlatformAdapter } from "../platform/types";
import { checkSandboxId } from "../sandbox/sandbox-id";
import type { RenderSettings } from "../sandbox/settings";
import { CreatePreflight } from "./create-preflight";
import { getResponse, type EncodedSandbox, type ReplyCodec } from "./encoded-sandboxes";
import type { PodFeatureGuard } from "./pod-feature-guard";
import { DriverError } from "./errors";
import { SandboxCache } from "./sandbox-cache";
import { SandboxCreator } from "./sandbox-create";
import { SandboxLocator } from "./sandbox-locator";
import { SandboxLookup, type FoundSandbox } from "./sandbox-lookup";
import { SandboxOperations } from "./sandbox-operations";
import { SandboxSideObjects } from "./side-objects-writer";
import { WatchHub } from "./watch-hub";
import { WorkspaceNamespaces } from "./workspace-namespaces";

const log = logger("cache");

/** How long a List at start waits for the cache's first listing of the Sandbox CRs (#sandboxesCachedSoon). */
const FIRST_SYNC_JOIN_MS = 30_000;

/** The request field every by-id RPC (Get, Stop, Start, Delete) carries the id in. */
const SANDBOX_ID_FIELD = "sandbox_id";

export interface SandboxDriverOptions {
  client: KubeClient;
  settings: RenderSettings;
  platform: PlatformAdapter;
  /** What this API server keeps of the pod features the driver renders (renewed on a version change). */
  podFeatures: PodFeatureGuard;
  stopTimeoutMs: number;
  /** How long a List at start waits for the cache's first listing of the Sandbox CRs (default 30 s). */
  firstSyncJoinMs?: number;
}

export class SandboxDriver {
  readonly settings: RenderSettings;
  readonly podFeatures: PodFeatureGuard;
  readonly hub = new WatchHub();
  readonly cache: SandboxCache;
  readonly #locator: SandboxLocator;
  readonly #preflight: CreatePreflight;
  readonly #creator: SandboxCreator;
  readonly #operations: SandboxOperations;
  readonly #namespaces: WorkspaceNamespaces;
  readonly #platform: PlatformAdapter;
  readonly #firstSyncJoinMs: number;

  constructor(opts: SandboxDriverOptions) {
    const { client, settings, platform } = opts;
    this.settings = settings;
    this.podFeatures = opts.podFeatures;
    this.#platform = platform;
    this.#firstSyncJoinMs = opts.firstSyncJoinMs ?? FIRST_SYNC_JOIN_MS;
    this.cache = new SandboxCache(client, settings, this.hub);
    const lookup = new SandboxLookup(client, settings);
    this.#locator = new SandboxLocator(this.cache, lookup);
    this.#namespaces = new WorkspaceNamespaces(client, settings, {
      alwaysRead: platform.checksNamespace,
      labels: platform.namespaceLabels(),
    });
    this.#preflight = new CreatePreflight(client, settings, this.#namespaces, platform, lookup, opts.podFeatures);
    const sideObjects = new SandboxSideObjects(client, platform, settings.serviceAccountName);
    this.#creator = new SandboxCreator({
      client,
      settings,
      namespaces: this.#namespaces,
      preflight: this.#preflight,
      lookup,
      locator: this.#locator,
      sideObjects,
    });
    this.#operations = new SandboxOperations({ ...opts, lookup, locator: this.#locator, cache: this.cache, sideObjects });
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
    await this.#preflight.check(sandbox);
  }

  create(sandbox: DriverSandbox): Promise<void> {
    return this.#creator.create(sandbox);
  }

  /**
   * From the cache when it holds the sandbox. A miss is confirmed with the API server first, in
   * one read that does not scan etcd (SandboxLocator.confirmMiss): the watch may not have
   * delivered a CR created a moment ago, or may be down, and the gateway drops its record of a
   * sandbox on NOT_FOUND.
   */
  async get(sandboxId: string): Promise<DriverSandbox> {
    const found = await this.#find(sandboxId);
    return "cr" in found ? found.sandbox : found;
  }

  /** Get's reply, written from the cached bytes when the cache holds the sandbox. */
  async getReply(sandboxId: string, codec: ReplyCodec): Promise<GetSandboxResponse> {
    const found = await this.#find(sandboxId);
    return "cr" in found ? getResponse(found, codec) : create(GetSandboxResponseSchema, { sandbox: found });
  }

  async #find(sandboxId: string): Promise<EncodedSandbox | DriverSandbox> {
    checkSandboxId(sandboxId, SANDBOX_ID_FIELD);
    const cached = this.cache.get(sandboxId);
    if (cached) return cached;
    let found: FoundSandbox[];
    try {
      found = await this.#locator.confirmMiss(sandboxId);
    } catch (err) {
      throw new DriverError(
        "Unavailable",
        `cannot tell whether sandbox ${sandboxId} exists: the cache does not hold it${this.#cacheState()} and the API server could not be asked (${(err as Error).message})`,
      );
    }
    for (const cr of found) {
      const observed = this.cache.observe(cr);
      if (observed?.id !== sandboxId) continue;
      log.debug("sandbox not cached yet; answered from the API server", { sandboxId, name: cr.metadata.name, namespace: cr.metadata.namespace });
      return observed;
    }
    throw new DriverError("NotFound", `sandbox ${sandboxId} not found`);
  }

  /** By CR name, then namespace. Before the Sandbox CRs are cached, as the API server has them. */
  async list(): Promise<DriverSandbox[]> {
    if (await this.#sandboxesCachedSoon()) return this.cache.list();
    return this.#listLive();
  }

  /** List's reply, written from the cached bytes once the Sandbox CRs are cached. */
  async listReply(codec: ReplyCodec): Promise<ListSandboxesResponse> {
    if (await this.#sandboxesCachedSoon()) return this.cache.listReply(codec);
    return create(ListSandboxesResponseSchema, { sandboxes: await this.#listLive() });
  }

  /**
   * At start the cache is listing every Sandbox CR: a List then waits for that listing rather
   * than making a second one of its own, which at 10,000 sandboxes costs the API server seconds
   * and slows the first. A listing that fails, or is not done in time, is not waited for.
   */
  #sandboxesCachedSoon(): Promise<boolean> {
    if (this.cache.sandboxesSynced()) return Promise.resolve(true);
    return this.cache.sandboxesSyncedWithin(this.#firstSyncJoinMs);
  }

  async #listLive(): Promise<DriverSandbox[]> {
    try {
      return await this.cache.listLive();
    } catch (err) {
      throw new DriverError(
        "Unavailable",
        `cannot list sandboxes: the cache has not loaded them yet${this.#cacheState()} and the API server could not be asked (${(err as Error).message})`,
      );
    }
  }

  async stopSandbox(sandboxId: string, signal: AbortSignal): Promise<void> {
    checkSandboxId(sandboxId, SANDBOX_ID_FIELD);
    return this.#operations.stop(sandboxId, signal);
  }

  async startSandbox(sandboxId: string): Promise<void> {
    checkSandboxId(sandboxId, SANDBOX_ID_FIELD);
    return this.#operations.start(sandboxId);
  }

  async deleteSandbox(sandboxId: string): Promise<boolean> {
    checkSandboxId(sandboxId, SANDBOX_ID_FIELD);
    return this.#operations.delete(sandboxId);
  }

  /** Managed and operator mode: the namespace made ready, then held to the platform's rules. */
  async ensureWorkspace(workspace: string): Promise<void> {
    const target = await this.#namespaces.ensure(workspace);
    if (target) await this.#platform.checkNamespace(target);
  }

  deleteWorkspace(workspace: string): Promise<void> {
    return this.#namespaces.delete(workspace);
  }

  /** Opens once the Sandbox CRs are cached; pods fill in as they arrive, as changes. */
  async *watch(signal: AbortSignal, codec: ReplyCodec): AsyncGenerator<WatchSandboxesEvent> {
    await this.cache.waitForSandboxes(signal);
    yield* this.hub.subscribe(() => this.cache.snapshotEvents(codec), signal, codec);
  }

  #cacheState(): string {
    const problem = this.cache.problem();
    return problem ? ` (${problem})` : "";
  }
}
