// Kubernetes Events of the namespaces that hold this gateway's sandboxes. Events cannot be
// selected by label, so rather than streaming every Event of the cluster, one list+watch runs per
// namespace: the driver's own namespace for the driver's lifetime in shared mode; in managed and
// operator mode one per namespace that currently holds a sandbox, started with its first sandbox
// and stopped with its last. (Upstream watches no Events outside shared mode, so its gateway shows
// no progress there.)
import type { CoreV1Event } from "@kubernetes/client-node";
import { Informer, type KubeClient } from "../kube";
import { logger } from "../log";
import { eventsPath } from "./kube-paths";

const log = logger("cache");

/**
 * Called for every event that happens while the namespace is watched. `catchingUp`: the event was
 * in the first list of a namespace whose watch started with its first sandbox, so it may be one
 * of that sandbox's first events (from before the list) or older history; the handler tells them
 * apart. The first list of a namespace watched from the start is history and is not passed on.
 */
export type EventHandler = (namespace: string, event: CoreV1Event, catchingUp: boolean) => void;

interface NamespaceWatch {
  informer: Informer<CoreV1Event>;
  catchUp: boolean;
}

export class EventWatches {
  readonly #client: KubeClient;
  readonly #onEvent: EventHandler;
  readonly #watches = new Map<string, NamespaceWatch>();

  constructor(client: KubeClient, onEvent: EventHandler) {
    this.#client = client;
    this.#onEvent = onEvent;
  }

  /**
   * The watch of `namespace`, created (not started) unless it exists; `catchUp` passes on its
   * first list too.
   */
  add(namespace: string, opts: { catchUp: boolean }): Informer<CoreV1Event> {
    const existing = this.#watches.get(namespace);
    if (existing) return existing.informer;
    const watch: NamespaceWatch = {
      catchUp: opts.catchUp,
      informer: new Informer<CoreV1Event>({
        client: this.#client,
        resource: "events",
        listPath: eventsPath(namespace),
        onEvent: (ev) => {
          if (ev.type !== "added" && ev.type !== "modified") return;
          const initial = !watch.informer.hasSynced();
          if (initial && !watch.catchUp) return;
          this.#onEvent(namespace, ev.object, initial);
        },
      }),
    };
    this.#watches.set(namespace, watch);
    log.debug("watching events", { namespace });
    return watch.informer;
  }

  /** Stops watching `namespace`; its last sandbox is gone. */
  release(namespace: string): void {
    const watch = this.#watches.get(namespace);
    if (!watch) return;
    this.#watches.delete(namespace);
    log.debug("no longer watching events", { namespace });
    void watch.informer.stop();
  }

  /** Why some namespace's events are not being seen, for /readyz; undefined when all are. */
  problem(): string | undefined {
    for (const [namespace, watch] of this.#watches) {
      const err = watch.informer.lastError();
      if (err) return `events watch in namespace ${namespace} failing: ${err}`;
    }
    return undefined;
  }

  async stopAll(): Promise<void> {
    const watches = [...this.#watches.values()];
    this.#watches.clear();
    await Promise.all(watches.map((w) => w.informer.stop()));
  }
}
