// The driver's view of the cluster: one list+watch each for Sandbox CRs and their pods (in the
// driver's namespace in shared mode, cluster-wide by label selector otherwise) and the Events of
// the namespaces holding sandboxes. Get/List read from here; every change is turned into
// WatchSandboxes events for the hub. A sandbox is observed (a pure function of CR and pod) and
// encoded here only, when its CR or pod changes, and only a change of what the gateway would see
// is sent; Get, List and a new watch's state write the kept bytes (encoded-sandboxes.ts).
// Sandboxes and pods are the cache; Events are an add-on stream: without them (no RBAC, a failing
// watch) everything else is served, only platform events are missing.
//
// "Serving" is not "ready": reads are served once the Sandbox CRs are listed (a sandbox whose pod
// is not cached yet is observed without it and sent again when the pod arrives), while /readyz
// says ready only once pods are listed too and both watches are healthy.
import { create } from "@bufbuild/protobuf";
import type { CoreV1Event, V1Pod } from "@kubernetes/client-node";
import { WatchSandboxesEventSchema, type DriverSandbox, type ListSandboxesResponse, type WatchSandboxesEvent } from "../gen/compute_driver_pb";
import { Informer, type InformerEvent, type KubeClient } from "../kube";
import { logger } from "../log";
import { managedSelector, observeSandbox, platformEventFor, sandboxIdOf, type SandboxResource } from "../sandbox";
import type { ObservableSandbox } from "../sandbox/observe";
import type { RenderSettings } from "../sandbox/settings";
import { EncodedSandboxes, compareCrKeys, sandboxEvent, type EncodedSandbox, type ReplyCodec } from "./encoded-sandboxes";
import { EventWatches } from "./event-watches";
import { lookupNamespace, podsPath, sandboxesPath } from "./kube-paths";
import { slimPod, slimSandbox, type CachedPod, type CachedSandbox } from "./slim-objects";
import type { WatchHub } from "./watch-hub";

const log = logger("cache");

interface ObjectKey {
  namespace: string;
  name: string;
}

/** namespace → object name → sandbox id; names repeat across workspace namespaces. */
type NameIndex = Map<string, Map<string, string>>;

const NO_NAMES: ReadonlyMap<string, string> = new Map();

export class SandboxCache {
  readonly #hub: WatchHub;
  readonly #client: KubeClient;
  readonly #scope: string | undefined;
  readonly #sandboxesPath: string;
  readonly #selector: string;
  readonly #sandboxes: Informer<SandboxResource, CachedSandbox>;
  readonly #pods: Informer<V1Pod, CachedPod>;
  readonly #events: EventWatches;
  /** Shared mode's one namespace, whose Events are watched all along; otherwise they follow the sandboxes. */
  readonly #fixedEventsNamespace: string | undefined;
  readonly #crById = new Map<string, ObjectKey>();
  /** Every cached CR carrying each id: normally one; more only if something else made a second. */
  readonly #crsById = new Map<string, Map<string, ObjectKey>>();
  readonly #podById = new Map<string, ObjectKey>();
  readonly #idByCrName: NameIndex = new Map();
  readonly #idByPodName: NameIndex = new Map();
  /** What Get, List and Watch serve: each sandbox's state as last sent to streams, encoded. */
  readonly #encoded = new EncodedSandboxes();
  #collectionScheduled = false;

  constructor(client: KubeClient, settings: RenderSettings, hub: WatchHub) {
    this.#hub = hub;
    this.#client = client;
    const scope = lookupNamespace(settings);
    const selector = managedSelector(settings.gatewayId);
    this.#scope = scope;
    this.#sandboxesPath = sandboxesPath(settings.apiVersion, scope);
    this.#selector = selector;
    this.#sandboxes = new Informer<SandboxResource, CachedSandbox>({
      client,
      resource: "sandboxes",
      listPath: this.#sandboxesPath,
      labelSelector: selector,
      transform: slimSandbox,
      onEvent: (ev) => this.#onSandbox(ev),
    });
    this.#pods = new Informer<V1Pod, CachedPod>({
      client,
      resource: "pods",
      listPath: podsPath(scope),
      labelSelector: selector,
      // Observation reads only a pod's metadata; its spec and status are most of its bytes.
      metadataOnly: true,
      transform: slimPod,
      onEvent: (ev) => this.#onPod(ev),
    });
    this.#events = new EventWatches(client, (namespace, ev, catchingUp) => this.#onKubeEvent(namespace, ev, catchingUp));
    this.#fixedEventsNamespace = scope;
  }

  /** Pods first, so a CR's first snapshot sees its pod when the pod list is back first. */
  get #informers(): [string, Informer<SandboxResource, CachedSandbox> | Informer<V1Pod, CachedPod>][] {
    return [
      ["pods", this.#pods],
      ["sandboxes", this.#sandboxes],
    ];
  }

  start(): void {
    for (const [, informer] of this.#informers) informer.start();
    if (this.#fixedEventsNamespace !== undefined) this.#events.watch(this.#fixedEventsNamespace, { catchUp: false });
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#informers.map(([, informer]) => informer.stop()), this.#events.stopAll()]);
  }

  /** Sandbox CRs listed at least once: enough to serve Get, List and Watch (see the top of the file). */
  sandboxesSynced(): boolean {
    return this.#sandboxes.hasSynced();
  }

  waitForSandboxes(signal?: AbortSignal): Promise<void> {
    return this.#sandboxes.waitForSync(signal);
  }

  /**
   * Waits for the Sandbox CRs' first sync, which is under way from start: true once synced, false
   * as soon as that listing reports an error, or once `timeoutMs` passes first.
   */
  async sandboxesSyncedWithin(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!this.#sandboxes.hasSynced()) {
      const left = deadline - performance.now();
      if (this.#sandboxes.lastError() !== undefined || left <= 0) return false;
      // Woken by the sync itself; every 100 ms to look for an error.
      await this.#sandboxes.waitForSync(AbortSignal.timeout(Math.min(100, left))).catch(() => undefined);
    }
    return true;
  }

  /** Why the cache is not (or no longer) up to date, for /readyz; undefined when healthy. Events never count. */
  problem(): string | undefined {
    for (const [name, informer] of this.#informers) {
      const err = informer.lastError();
      if (!informer.hasSynced()) return `${name} cache not synced${err ? `: ${err}` : ""}`;
      // Still serving the last known state, but no longer seeing changes.
      if (err) return `${name} watch failing: ${err}`;
    }
    return undefined;
  }

  /** Why platform events are (partly) missing, as detail for /readyz; never a reason to be unready. */
  eventsProblem(): string | undefined {
    return this.#events.problem();
  }

  /** Sandboxes and pods listed at least once; Events are not waited for. */
  async waitForSync(signal?: AbortSignal): Promise<void> {
    await Promise.all(this.#informers.map(([, informer]) => informer.waitForSync(signal)));
  }

  /**
   * Every cached CR of this gateway carrying `sandboxId`, oldest first, for a write to act on by
   * name; an empty list when the cache holds none. Undefined while the cache cannot vouch for what
   * it holds (not synced, or a watch failing): the caller asks the API server instead.
   */
  holdersOf(sandboxId: string): CachedSandbox[] | undefined {
    if (this.problem() !== undefined) return undefined;
    const keys = this.#crsById.get(sandboxId);
    if (!keys) return [];
    const crs = [...keys.values()].flatMap((key) => this.#sandboxes.get(key.namespace, key.name) ?? []);
    return crs.sort((a, b) => createdMs(a) - createdMs(b));
  }

  /**
   * The resourceVersion up to which the cache has taken in every change to this gateway's Sandbox
   * CRs; undefined while the cache cannot vouch for it (see holdersOf).
   */
  sandboxesSeenAt(): string | undefined {
    if (this.problem() !== undefined) return undefined;
    return this.#sandboxes.resourceVersionSeen();
  }

  /** The cached pod of `sandboxId`, where it is; undefined when the cache holds none. */
  podOf(sandboxId: string): ObjectKey | undefined {
    return this.#podById.get(sandboxId);
  }

  /** The sandbox as cached; undefined is a miss, not proof of absence (see SandboxDriver.get). */
  get(sandboxId: string): EncodedSandbox | undefined {
    return this.#encoded.get(sandboxId);
  }

  /** Every cached sandbox, by CR name then namespace. */
  list(): DriverSandbox[] {
    return this.#encoded.ordered().map((entry) => entry.sandbox);
  }

  /** ListSandboxes' reply from the cached bytes (encoded-sandboxes.ts). */
  listReply(codec: ReplyCodec): ListSandboxesResponse {
    return this.#encoded.listReply(codec);
  }

  /** The current state as `sandbox` events, the first thing every new watch stream receives. */
  snapshotEvents(codec: ReplyCodec): WatchSandboxesEvent[] {
    return this.#encoded.ordered().map((entry) => sandboxEvent(entry, codec));
  }

  /**
   * This gateway's sandboxes as the API server has them now, in List order, for a List that
   * comes before the Sandbox CRs are cached: a label-selected LIST, observed with whatever pods
   * are cached. One per id, as in the cache.
   */
  async listLive(): Promise<DriverSandbox[]> {
    const crs = await this.#client.listAll<SandboxResource>({
      path: this.#sandboxesPath,
      query: { labelSelector: this.#selector },
      resource: "sandboxes.agents.x-k8s.io",
      ...(this.#scope === undefined ? {} : { namespace: this.#scope }),
    });
    const located = crs.flatMap((cr) => {
      const key = keyOf(cr);
      return key ? [{ cr, key }] : [];
    });
    const seen = new Set<string>();
    const out: DriverSandbox[] = [];
    for (const { cr } of located.sort((a, b) => compareCrKeys(a.key, b.key))) {
      const observed = this.observe(cr);
      if (!observed || seen.has(observed.id)) continue;
      seen.add(observed.id);
      out.push(observed);
    }
    return out;
  }

  #podFor(sandboxId: string): CachedPod | undefined {
    const key = this.#podById.get(sandboxId);
    return key && this.#pods.get(key.namespace, key.name);
  }

  /** What the gateway sees of `cr` (cached, or just read from the API server) with its cached pod. */
  observe(cr: ObservableSandbox): DriverSandbox | undefined {
    const id = sandboxIdOf(cr);
    return observeSandbox(cr, id === undefined ? undefined : this.#podFor(id));
  }

  /** The one place sandboxes are observed: after every change to the CR or pod of `sandboxId`. */
  #publishIfChanged(sandboxId: string): void {
    const key = this.#crById.get(sandboxId);
    const cr = key && this.#sandboxes.get(key.namespace, key.name);
    const observed = cr && this.observe(cr);
    if (!key || observed?.id !== sandboxId) {
      // Not (or no longer) a sandbox of this gateway, e.g. its managed-by label was removed.
      this.#encoded.delete(sandboxId);
      return;
    }
    const changed = this.#encoded.set(sandboxId, observed, key);
    if (changed) this.#hub.publish(sandboxEvent(changed, "json"), sandboxEvent(changed, "binary"));
  }

  #onSandbox(ev: InformerEvent<CachedSandbox>): void {
    if (ev.type === "synced") return this.#collectAfterFullList();
    const id = sandboxIdOf(ev.object);
    const key = keyOf(ev.object);
    if (id === undefined || key === undefined) return;
    if (ev.type !== "deleted" && ev.old) {
      // A CR relabelled to another id no longer holds the old one.
      const oldId = sandboxIdOf(ev.old);
      if (oldId !== undefined && oldId !== id) this.#unholdId(oldId, key);
    }
    if (ev.type === "deleted") {
      unindex(this.#idByCrName, key);
      this.#unholdId(id, key);
      this.#releaseEventsIfEmpty(key.namespace);
      const current = this.#crById.get(id);
      if (current && (current.namespace !== key.namespace || current.name !== key.name)) return;
      // The id lives on while another CR carries it (one made outside this driver): report that
      // one, not a deletion the gateway would drop the sandbox for.
      const otherKey = this.#crsById.get(id)?.values().next().value;
      if (otherKey) {
        this.#crById.set(id, otherKey);
        this.#publishIfChanged(id);
        return;
      }
      this.#crById.delete(id);
      this.#encoded.delete(id);
      log.debug("sandbox deleted", { sandboxId: id, ...key });
      this.#hub.publish(create(WatchSandboxesEventSchema, { payload: { case: "deleted", value: { sandboxId: id } } }));
      return;
    }
    this.#crById.set(id, key);
    let holders = this.#crsById.get(id);
    if (!holders) this.#crsById.set(id, (holders = new Map()));
    holders.set(`${key.namespace}/${key.name}`, key);
    index(this.#idByCrName, key, id);
    this.#followEvents(key.namespace);
    this.#publishIfChanged(id);
  }

  #unholdId(sandboxId: string, key: ObjectKey): void {
    const holders = this.#crsById.get(sandboxId);
    holders?.delete(`${key.namespace}/${key.name}`);
    if (holders?.size === 0) this.#crsById.delete(sandboxId);
  }

  #onPod(ev: InformerEvent<CachedPod>): void {
    if (ev.type === "synced") return this.#collectAfterFullList();
    const id = sandboxIdOf(ev.object);
    const key = keyOf(ev.object);
    if (id === undefined || key === undefined) return;
    if (ev.type === "deleted") {
      const current = this.#podById.get(id);
      if (current?.namespace === key.namespace && current.name === key.name) this.#podById.delete(id);
      unindex(this.#idByPodName, key);
    } else {
      this.#podById.set(id, key);
      index(this.#idByPodName, key, id);
    }
    this.#publishIfChanged(id);
  }

  /**
   * A full LIST (the first one, or a relist after a watch gap) parses every object whole before
   * it is slimmed: at 10,000 sandboxes over 100 MB of garbage, which JSC leaves in place until its
   * idle collector runs about ten seconds later, since nothing is allocated after the burst (RSS
   * 245 MiB five seconds after the sync, 133 MiB once collected; bench/synthetic-api.ts). One full
   * collection (about 100 ms at 10,000) once both caches are synced returns it at once; it waits
   * a tick so the informer's parsed list is out of scope. A streaming list leaves little to collect.
   */
  #collectAfterFullList(): void {
    if (this.#collectionScheduled || !this.#informers.every(([, informer]) => informer.hasSynced())) return;
    this.#collectionScheduled = true;
    setTimeout(() => {
      this.#collectionScheduled = false;
      Bun.gc(true);
    }, 0).unref();
  }

  /**
   * Outside shared mode: watch the Events of a namespace once it holds a sandbox. A namespace
   * first seen after the initial sync got its first sandbox just now, so the first list of its
   * Events may already hold that sandbox's first events.
   */
  #followEvents(namespace: string): void {
    if (this.#fixedEventsNamespace !== undefined) return;
    this.#events.watch(namespace, { catchUp: this.#sandboxes.hasSynced() });
  }

  #releaseEventsIfEmpty(namespace: string): void {
    if (this.#fixedEventsNamespace !== undefined) return;
    if (this.#sandboxes.list().some((cr) => cr.metadata?.namespace === namespace)) return;
    this.#events.release(namespace);
  }

  #onKubeEvent(namespace: string, ev: CoreV1Event, catchingUp: boolean): void {
    const mapped = platformEventFor(ev, {
      sandboxIdByCrName: this.#idByCrName.get(namespace) ?? NO_NAMES,
      sandboxIdByPodName: this.#idByPodName.get(namespace) ?? NO_NAMES,
    });
    if (!mapped) return;
    // Catching up, an event older than the sandbox belongs to an earlier sandbox of the same name.
    if (catchingUp && Number(mapped.event.timestampMs) < this.#createdMs(mapped.sandboxId)) return;
    this.#hub.publish(
      create(WatchSandboxesEventSchema, {
        payload: { case: "platformEvent", value: { sandboxId: mapped.sandboxId, event: mapped.event } },
      }),
    );
  }

  /** When the sandbox's CR was created, truncated to the second like event timestamps. */
  #createdMs(sandboxId: string): number {
    const key = this.#crById.get(sandboxId);
    const created = key && this.#sandboxes.get(key.namespace, key.name)?.metadata.creationTimestamp;
    if (created === undefined) return Number.POSITIVE_INFINITY;
    return Math.floor(new Date(created).getTime() / 1000) * 1000;
  }
}

function createdMs(cr: CachedSandbox): number {
  const created = cr.metadata.creationTimestamp;
  return created === undefined ? 0 : new Date(created).getTime();
}

function keyOf(obj: { metadata?: { name?: string; namespace?: string } }): ObjectKey | undefined {
  const { name, namespace } = obj.metadata ?? {};
  return name === undefined || namespace === undefined ? undefined : { namespace, name };
}

function index(names: NameIndex, key: ObjectKey, id: string): void {
  let inNamespace = names.get(key.namespace);
  if (!inNamespace) names.set(key.namespace, (inNamespace = new Map()));
  inNamespace.set(key.name, id);
}

function unindex(names: NameIndex, key: ObjectKey): void {
  const inNamespace = names.get(key.namespace);
  inNamespace?.delete(key.name);
  if (inNamespace?.size === 0) names.delete(key.namespace);
}
