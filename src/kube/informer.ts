// client-go's reflector + store, small: learn the collection's current state into a local cache,
// watch from there, relearn it (diffed against the cache) on 410 Gone, re-watch with jittered
// backoff on anything else, and a watchdog for streams that go silent without closing (a dead NAT
// entry or a half-open TCP connection never errors on its own). Unlike client-go, the retry delay
// stays short while the API server is down or starting, so watches follow it back within a second
// or two rather than after a 30 s backoff, and the informer is healthy again as soon as a watch is
// accepted, not at the next event (which a quiet namespace may never send).
//
// The current state comes from the API server's watch cache, not etcd: as a streaming list
// (streaming-list.ts), and where the server does not serve one, as one LIST (initial-list.ts).

import { logger } from "../log";
import type { WatchEvent } from "./client";
import { KubeApiError, errorFromStatusObject, isKubeApiError } from "./errors";
import { listInitialState, type ListFreshness } from "./initial-list";
import type { InformerEvent, InformerOptions } from "./informer-options";
import { retryDelayMs, serverNotServing, sleepUnlessAborted } from "./retry";
import { InitialEvents, STREAMING_LIST_QUERY, StreamingListUnserved, refusesStreamingList } from "./streaming-list";
import { SyncWaiters } from "./sync-waiters";
import { WatchScope } from "./watch-scope";

export type { InformerEvent, InformerOptions, InitialSync } from "./informer-options";

const log = logger("kube");

export interface ObjectMetaLike {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; uid?: string };
}

export type RestartReason = "timeout" | "gone" | "error" | "stall";

type WatchOutcome = RestartReason | "stopped" | "unstreamed";

/** Raised inside a watch to turn a 410 (at start or in-stream) into a relist. */
class GoneSignal extends Error {}

export class Informer<T extends ObjectMetaLike, S extends ObjectMetaLike = T> {
  private readonly opts: InformerOptions<T, S>;
  private readonly cache = new Map<string, S>();
  private readonly transform: (obj: T) => S;
  private resourceVersion: string | undefined;
  private streaming: boolean;
  private synced = false;
  private error: string | undefined;
  private stopCtrl: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private readonly syncWaiters = new SyncWaiters();

  constructor(opts: InformerOptions<T, S>) {
    this.opts = opts;
    this.transform = opts.transform ?? ((obj: T) => obj as unknown as S);
    this.streaming = (opts.initialSync ?? "streaming") === "streaming";
  }

  start(): void {
    if (this.stopCtrl) return;
    this.stopCtrl = new AbortController();
    this.loop = this.run(this.stopCtrl.signal);
  }

  /** Aborts the open request and any backoff wait; resolves once nothing is left running. */
  async stop(): Promise<void> {
    const ctrl = this.stopCtrl;
    if (!ctrl) return;
    ctrl.abort();
    await this.loop;
    this.stopCtrl = undefined;
    this.loop = undefined;
    this.syncWaiters.rejectAll(new Error(`informer for ${this.opts.resource} stopped before it synced`));
  }

  hasSynced(): boolean {
    return this.synced;
  }

  list(): S[] {
    return [...this.cache.values()];
  }

  get(namespace: string, name: string): S | undefined {
    return this.cache.get(cacheKey(namespace, name));
  }

  /**
   * The resourceVersion of the last list, event or bookmark taken in: the cache holds every change
   * the API server had made up to it. Undefined before the first sync.
   */
  resourceVersionSeen(): string | undefined {
    return this.synced ? this.resourceVersion : undefined;
  }

  /** The most recent failure since the last successful list or accepted watch; undefined when healthy. */
  lastError(): string | undefined {
    return this.error;
  }

  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    return this.syncWaiters.wait(signal);
  }

  private async run(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    // Until the first sync a cached list is fresh enough; after a 410 it must not go back in time.
    let freshness: ListFreshness = this.opts.initialSync === "paged" ? "paged" : "cached";
    let needSync = true;
    while (!signal.aborted) {
      let reason: RestartReason;
      let wait = false;
      let failure: unknown;
      try {
        if (needSync && !this.streaming) {
          await this.relist(signal, freshness);
          needSync = false;
          attempt = 0;
          if (signal.aborted) break;
        }
        const streamed = needSync;
        const started = performance.now();
        const { outcome, events } = await this.watchOnce(signal, streamed, (initialStateDone) => {
          attempt = 0;
          if (initialStateDone) needSync = false;
        });
        if (outcome === "stopped") break;
        if (outcome === "unstreamed") continue;
        reason = outcome;
        if (outcome === "gone") {
          needSync = true;
          if (freshness === "cached") freshness = "latest";
          log.debug(`watch ${this.opts.resource}: resourceVersion expired, relisting`);
        } else if (outcome === "stall") {
          this.error = `watch ${this.opts.resource}: no event or bookmark for ${this.inactivityMs(this.watchTimeout()) / 1000}s; re-watching`;
          log.warn(this.error);
          wait = true;
        } else {
          log.debug(`watch ${this.opts.resource}: stream ended after ${events} events; re-watching from ${this.resourceVersion}`);
          // A server (or proxy) that closes every watch at once would otherwise spin us.
          wait = events === 0 && performance.now() - started < 1000;
        }
      } catch (err) {
        if (signal.aborted) break;
        reason = "error";
        if (err instanceof GoneSignal || isKubeApiError(err, 410)) {
          // A 410 while listing (a page's continue token expired): start the list over.
          reason = "gone";
          needSync = true;
        } else {
          failure = err;
          this.error = describe(err);
          log.warn(`${this.error}; retrying`);
          wait = true;
          if (this.resourceVersion === undefined) needSync = true;
        }
      }
      this.reportRestart(reason);
      if (wait) {
        const delay = retryDelayMs(attempt++, failure, this.opts.backoff, serverUnavailable);
        await sleepUnlessAborted(delay, signal);
      }
    }
  }

  private async relist(signal: AbortSignal, freshness: ListFreshness): Promise<void> {
    const { client, listPath, resource } = this.opts;
    const listed = await listInitialState<T>({
      client,
      resource,
      listPath,
      labelSelector: this.opts.labelSelector,
      fieldSelector: this.opts.fieldSelector,
      freshness,
      ...(this.opts.metadataOnly ? { metadataOnly: true } : {}),
      ...(this.opts.pageSize && this.opts.pageSize > 0 ? { pageSize: this.opts.pageSize } : {}),
      signal,
    });
    if (!listed) return;
    this.recovered();
    const fresh = new Map<string, S>();
    for (const item of listed.items) {
      const obj = this.transform(item);
      fresh.set(keyOf(obj), obj);
    }
    this.replace(fresh, listed.resourceVersion);
  }

  /** Makes `fresh` the cache, reporting the difference, then reports synced. */
  private replace(fresh: Map<string, S>, rv: string | undefined): void {
    this.resourceVersion = rv;
    for (const [key, old] of [...this.cache]) {
      const now = fresh.get(key);
      // Same name but a new uid: the old object was deleted while we were not watching.
      if (!now || (now.metadata?.uid && old.metadata?.uid && now.metadata.uid !== old.metadata.uid)) {
        this.cache.delete(key);
        this.emit({ type: "deleted", object: old, old });
      }
    }
    for (const [key, obj] of fresh) {
      const old = this.cache.get(key);
      this.cache.set(key, obj);
      if (!old) this.emit({ type: "added", object: obj });
      else if (rvOf(old) !== rvOf(obj)) this.emit({ type: "modified", object: obj, old });
    }
    this.synced = true;
    this.emit({ type: "synced" });
    this.syncWaiters.resolveAll();
    log.debug(`sync ${this.opts.resource}: ${fresh.size} objects at resourceVersion ${rv ?? "(none)"}`);
  }

  /**
   * One watch until it ends. With `streamed`, it is a streaming list: it gathers the initial
   * state, makes it the cache at the initial-events-end bookmark, then carries on as a plain watch.
   */
  private async watchOnce(
    stop: AbortSignal,
    streamed: boolean,
    onProgress: (initialStateDone: boolean) => void,
  ): Promise<{ outcome: WatchOutcome; events: number }> {
    const timeoutSeconds = this.watchTimeout();
    const inactivityMs = this.inactivityMs(timeoutSeconds);
    const scope = new WatchScope(stop, inactivityMs);
    let initial = streamed ? new InitialEvents<T, S>(this.transform, keyOf) : undefined;
    let unserved: string | undefined;
    const quietMs = this.opts.initialEventsTimeoutMs ?? 10_000;
    const quietTimer = streamed
      ? setTimeout(() => {
          unserved = `no initial-events-end bookmark, and no event for ${quietMs / 1000}s`;
          scope.abort();
        }, quietMs)
      : undefined;
    let events = 0;
    try {
      const stream = this.opts.client.watch<T>({
        path: this.opts.listPath,
        resource: this.opts.resource,
        signal: scope.signal,
        ...(this.opts.metadataOnly ? { metadataOnly: true } : {}),
        query: {
          labelSelector: this.opts.labelSelector,
          fieldSelector: this.opts.fieldSelector,
          ...(streamed ? STREAMING_LIST_QUERY : { resourceVersion: this.resourceVersion }),
          allowWatchBookmarks: true,
          timeoutSeconds,
        },
        onOpen: () => this.recovered(),
      });
      for await (const ev of stream) {
        scope.alive();
        if (initial) quietTimer?.refresh();
        events++;
        const state = initial && ev.type !== "ERROR" ? initial.accept(ev) : undefined;
        if (!initial || ev.type === "ERROR") this.apply(ev);
        if (initial && state) {
          clearTimeout(quietTimer);
          this.replace(initial.objects, state.resourceVersion);
          initial = undefined;
        }
        onProgress(state !== undefined);
      }
    } catch (err) {
      if (stop.aborted) return { outcome: "stopped", events };
      if (scope.stalled) return { outcome: "stall", events };
      if (err instanceof StreamingListUnserved || (initial && refusesStreamingList(err))) unserved = (err as Error).message;
      else if (err instanceof GoneSignal || isKubeApiError(err, 410)) return { outcome: "gone", events };
      else if (unserved === undefined) throw err;
    } finally {
      clearTimeout(quietTimer);
      scope.close();
    }
    if (stop.aborted) return { outcome: "stopped", events };
    if (unserved !== undefined) {
      log.info(`watch ${this.opts.resource}: the API server does not serve streaming lists (${unserved}); listing instead`);
      this.streaming = false;
      return { outcome: "unstreamed", events };
    }
    if (scope.stalled) return { outcome: "stall", events };
    return { outcome: "timeout", events };
  }

  private apply(ev: WatchEvent<T>): void {
    if (ev.type === "ERROR") {
      const err = errorFromStatusObject({ verb: "watch", resource: this.opts.resource }, ev.object);
      if (err.status === 410 || err.reason === "Expired" || err.reason === "Gone") throw new GoneSignal(err.message);
      throw err;
    }
    const rv = rvOf(ev.object);
    if (ev.type === "BOOKMARK") {
      if (rv) this.resourceVersion = rv;
      return;
    }
    if (ev.type !== "ADDED" && ev.type !== "MODIFIED" && ev.type !== "DELETED") {
      log.debug(`watch ${this.opts.resource}: ignoring event type ${String(ev.type)}`);
      return;
    }
    const obj = this.transform(ev.object);
    const key = keyOf(obj);
    const old = this.cache.get(key);
    if (ev.type === "DELETED") {
      this.cache.delete(key);
      this.emit({ type: "deleted", object: obj, ...(old ? { old } : {}) });
    } else {
      this.cache.set(key, obj);
      this.emit(old ? { type: "modified", object: obj, old } : { type: "added", object: obj });
    }
    if (rv) this.resourceVersion = rv;
  }

  private recovered(): void {
    if (this.error === undefined) return;
    log.info(`${this.opts.resource}: list+watch healthy again (last error: ${this.error})`);
    this.error = undefined;
  }

  private emit(ev: InformerEvent<S>): void {
    try {
      this.opts.onEvent?.(ev);
    } catch (err) {
      log.warn(`informer ${this.opts.resource}: event handler threw: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  private reportRestart(reason: RestartReason): void {
    try {
      (this.opts.observer ?? this.opts.client.observer)?.watchRestart?.(this.opts.resource, reason);
    } catch {
      // metrics must never stop the informer
    }
  }

  private watchTimeout(): number {
    const base = this.opts.watchTimeoutSeconds ?? 300;
    return Math.max(1, Math.round(base * (0.8 + Math.random() * 0.4)));
  }

  private inactivityMs(timeoutSeconds: number): number {
    return this.opts.inactivityMs ?? (timeoutSeconds + 60) * 1000;
  }

}

/**
 * Failures that end by themselves once the API server is up and serving: no response at all, a
 * server that answers but is overloaded or failing, and the 401/403 it gives while its
 * authenticators and RBAC caches are still loading at start.
 */
function serverUnavailable(err: unknown): boolean {
  return serverNotServing(err) || (err instanceof KubeApiError && (err.status === 401 || err.status === 403));
}

function keyOf(obj: ObjectMetaLike): string {
  return cacheKey(obj.metadata?.namespace ?? "", obj.metadata?.name ?? "");
}

function cacheKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function rvOf(obj: ObjectMetaLike): string | undefined {
  return obj.metadata?.resourceVersion;
}

function describe(err: unknown): string {
  if (err instanceof KubeApiError) return err.message;
  return (err as Error)?.message ?? String(err);
}

