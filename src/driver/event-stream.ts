// The Kubernetes Events of one namespace as a stream, keeping none of them. Events cannot be
// selected by label, so an informer would hold every Event of the namespace (other workloads'
// included) in memory; platform events only need each event once, as it happens. So: list once
// for a resourceVersion (passing the listed events on only when asked to catch up, then in one
// LIST from the watch cache, as the informer does), then watch
// from it; re-watch from the last resourceVersion after a stream ends or breaks (with jittered
// backoff, and a watchdog for silent streams); after 410 Gone list again for a fresh
// resourceVersion, without replaying what was listed: events missed in such a gap are lost, as
// they are upstream, which never replays listed events either.
//
// Events are an add-on: a failing stream is logged, counted (watch restarts metric) and reported
// by problem(), and never holds up anything else.
import type { CoreV1Event } from "@kubernetes/client-node";
import { WatchScope, isKubeApiError, retryDelayMs, serverNotServing, sleepUnlessAborted, type Backoff, type KubeClient } from "../kube";
import { errorFromStatusObject } from "../kube/errors";
import { listInitialState } from "../kube/initial-list";
import { logger } from "../log";
import { eventsPath } from "./kube-paths";

const log = logger("cache");

const RESOURCE = "events";

export interface EventStreamOptions {
  client: KubeClient;
  namespace: string;
  /** Pass on the events of the first list too, as catching up; otherwise they are history. */
  catchUp: boolean;
  /** `catchingUp`: the event came from the first list, so it may predate what it is about. */
  onEvent: (event: CoreV1Event, catchingUp: boolean) => void;
  /** Server-side watch timeout before ±20% jitter. Default 300 s. */
  watchTimeoutSeconds?: number;
  backoff?: Backoff;
}

interface EventList {
  metadata?: { resourceVersion?: string };
}

type WatchEnd = "timeout" | "gone" | "stall" | "stopped";

export class EventStream {
  readonly #opts: EventStreamOptions;
  #resourceVersion: string | undefined;
  #listed = false;
  #error: string | undefined;
  #stop: AbortController | undefined;
  #loop: Promise<void> | undefined;

  constructor(opts: EventStreamOptions) {
    this.#opts = opts;
  }

  start(): void {
    if (this.#stop) return;
    this.#stop = new AbortController();
    this.#loop = this.#run(this.#stop.signal);
  }

  async stop(): Promise<void> {
    this.#stop?.abort();
    await this.#loop;
  }

  /** The most recent failure since the last successful list or accepted watch; undefined when healthy. */
  lastError(): string | undefined {
    return this.#error;
  }

  async #run(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    while (!signal.aborted) {
      let failure: unknown;
      try {
        if (this.#resourceVersion === undefined) await this.#list(signal);
        if (signal.aborted) return;
        const started = performance.now();
        const { end, events } = await this.#watch(signal);
        if (end === "stopped") return;
        if (events > 0) attempt = 0;
        this.#reportRestart(end);
        if (end === "gone") {
          this.#resourceVersion = undefined;
          continue;
        }
        // A server or proxy that ends every watch at once would otherwise spin this loop.
        if (end === "timeout" && (events > 0 || performance.now() - started >= 1000)) continue;
        if (end === "stall") this.#fail(`watch events in namespace ${this.#opts.namespace}: no event or bookmark for too long; re-watching`);
      } catch (err) {
        if (signal.aborted) return;
        if (isKubeApiError(err, 410)) {
          this.#resourceVersion = undefined;
          this.#reportRestart("gone");
          continue;
        }
        failure = err;
        this.#fail((err as Error).message);
        this.#reportRestart("error");
      }
      // A refusal (a missing `events` permission) is retried slowly; an outage promptly.
      await sleepUnlessAborted(retryDelayMs(attempt++, failure, this.#opts.backoff, serverNotServing), signal);
    }
  }

  async #list(signal: AbortSignal): Promise<void> {
    const { client, namespace } = this.#opts;
    // The first list is history unless catching up; other lists are only for a resourceVersion,
    // which a LIST of one event gives (2 KB where a namespace's 4,000 Events are 6 MB). Not at
    // resourceVersion=0: older watch caches ignore a limit there and send every Event (1.36 honours it).
    const passOn = !this.#listed && this.#opts.catchUp;
    let resourceVersion: string | undefined;
    if (passOn) {
      const listed = await listInitialState<CoreV1Event>({ client, resource: RESOURCE, namespace, listPath: eventsPath(namespace), freshness: "cached", signal });
      if (!listed) return;
      for (const event of listed.items) this.#deliver(event, true);
      resourceVersion = listed.resourceVersion;
    } else {
      const page = await client.request<EventList>({ verb: "list", path: eventsPath(namespace), resource: RESOURCE, namespace, signal, query: { limit: 1 } });
      if (signal.aborted) return;
      resourceVersion = page.metadata?.resourceVersion;
    }
    this.#resourceVersion = resourceVersion;
    this.#listed = true;
    this.#recovered();
  }

  async #watch(stop: AbortSignal): Promise<{ end: WatchEnd; events: number }> {
    const base = this.#opts.watchTimeoutSeconds ?? 300;
    const timeoutSeconds = Math.max(1, Math.round(base * (0.8 + Math.random() * 0.4)));
    const scope = new WatchScope(stop, (timeoutSeconds + 60) * 1000);
    let events = 0;
    try {
      const stream = this.#opts.client.watch<CoreV1Event>({
        path: eventsPath(this.#opts.namespace),
        resource: RESOURCE,
        namespace: this.#opts.namespace,
        signal: scope.signal,
        query: { resourceVersion: this.#resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
        onOpen: () => this.#recovered(),
      });
      for await (const ev of stream) {
        scope.alive();
        events++;
        // etcd compaction ends a watch with an in-stream 410 Status.
        if (ev.type === "ERROR") throw errorFromStatusObject({ verb: "watch", resource: RESOURCE, namespace: this.#opts.namespace }, ev.object);
        const rv = ev.object.metadata?.resourceVersion;
        if (rv) this.#resourceVersion = rv;
        if (ev.type === "ADDED" || ev.type === "MODIFIED") this.#deliver(ev.object, false);
      }
    } catch (err) {
      if (stop.aborted) return { end: "stopped", events };
      if (scope.stalled) return { end: "stall", events };
      if (isKubeApiError(err, 410)) return { end: "gone", events };
      throw err;
    } finally {
      scope.close();
    }
    if (stop.aborted) return { end: "stopped", events };
    return { end: scope.stalled ? "stall" : "timeout", events };
  }

  #deliver(event: CoreV1Event, catchingUp: boolean): void {
    try {
      this.#opts.onEvent(event, catchingUp);
    } catch (err) {
      log.warn("event handler threw", { namespace: this.#opts.namespace, error: (err as Error).message });
    }
  }

  /** Logged at warn when the failure changes, so a lasting one (no RBAC for events) is not a flood. */
  #fail(message: string): void {
    if (message !== this.#error) log.warn(`${message}; retrying`, { namespace: this.#opts.namespace });
    else log.debug(`${message}; retrying`, { namespace: this.#opts.namespace });
    this.#error = message;
  }

  #recovered(): void {
    if (this.#error === undefined) return;
    log.info("events watch healthy again", { namespace: this.#opts.namespace, lastError: this.#error });
    this.#error = undefined;
  }

  #reportRestart(reason: "timeout" | "gone" | "stall" | "error"): void {
    try {
      this.#opts.client.observer?.watchRestart?.(RESOURCE, reason);
    } catch {
      // metrics must never stop the stream
    }
  }

}

