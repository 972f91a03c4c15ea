// Kubernetes Events of the namespaces that hold this gateway's sandboxes. Events cannot be
// selected by label, so rather than streaming every Event of the cluster, one stream runs per
// namespace: the driver's own namespace for the driver's lifetime in shared mode; in managed and
// operator mode one per namespace that currently holds a sandbox, started with its first sandbox
// and stopped with its last. (Upstream watches no Events outside shared mode, so its gateway shows
// no progress there.) Streams keep no Events (see event-stream.ts) and gate nothing.
import type { CoreV1Event } from "@kubernetes/client-node";
import type { KubeClient } from "../kube";
import { logger } from "../log";
import { EventStream } from "./event-stream";

const log = logger("cache");

/**
 * Called for every event that happens while the namespace is watched. `catchingUp`: the event was
 * in the first list of a namespace whose watch started with its first sandbox, so it may be one
 * of that sandbox's first events (from before the list) or older history; the handler tells them
 * apart. The first list of a namespace watched from the start is history and is not passed on.
 */
export type EventHandler = (namespace: string, event: CoreV1Event, catchingUp: boolean) => void;

export class EventWatches {
  readonly #client: KubeClient;
  readonly #onEvent: EventHandler;
  readonly #streams = new Map<string, EventStream>();
  /** After stopAll, a sandbox event still in flight must not start a stream nothing would stop. */
  #stopped = false;

  constructor(client: KubeClient, onEvent: EventHandler) {
    this.#client = client;
    this.#onEvent = onEvent;
  }

  /** Starts watching `namespace` unless it is watched already; `catchUp` passes on its first list too. */
  watch(namespace: string, opts: { catchUp: boolean }): void {
    if (this.#stopped || this.#streams.has(namespace)) return;
    const stream = new EventStream({
      client: this.#client,
      namespace,
      catchUp: opts.catchUp,
      onEvent: (event, catchingUp) => this.#onEvent(namespace, event, catchingUp),
    });
    this.#streams.set(namespace, stream);
    log.debug("watching events", { namespace });
    stream.start();
  }

  /** Stops watching `namespace`; its last sandbox is gone. */
  release(namespace: string): void {
    const stream = this.#streams.get(namespace);
    if (!stream) return;
    this.#streams.delete(namespace);
    log.debug("no longer watching events", { namespace });
    void stream.stop();
  }

  /** Why some namespace's events are not being seen; undefined when all are. */
  problem(): string | undefined {
    for (const [namespace, stream] of this.#streams) {
      const err = stream.lastError();
      if (err) return `events watch in namespace ${namespace} failing: ${err}`;
    }
    return undefined;
  }

  async stopAll(): Promise<void> {
    this.#stopped = true;
    const streams = [...this.#streams.values()];
    this.#streams.clear();
    await Promise.all(streams.map((s) => s.stop()));
  }
}
