// The watch half of the in-memory list+watch stand-ins the cache tests use: per collection path, a
// queue of events that open watch streams drain, after the initial state and end bookmark a
// streaming list (`sendInitialEvents`) sends.
import type { WatchEvent } from "../../src/kube";

export interface InitialState {
  objects: Iterable<object>;
  resourceVersion: string;
}

export class FakeWatchQueues {
  readonly #queues = new Map<string, { events: WatchEvent<object>[]; wake?: () => void }>();

  push(path: string, event: WatchEvent<object>): void {
    const queue = this.#queue(path);
    queue.events.push(event);
    queue.wake?.();
  }

  /** Drops what is queued: a streaming list's initial state already holds it. */
  clear(path: string): void {
    this.#queue(path).events.length = 0;
  }

  async *stream(path: string, signal: AbortSignal, initial?: InitialState): AsyncGenerator<WatchEvent<object>> {
    const queue = this.#queue(path);
    if (initial) {
      for (const object of initial.objects) yield { type: "ADDED", object };
      yield { type: "BOOKMARK", object: { metadata: { resourceVersion: initial.resourceVersion, annotations: { "k8s.io/initial-events-end": "true" } } } };
    }
    while (!signal.aborted) {
      const next = queue.events.shift();
      if (next) {
        yield next;
        continue;
      }
      await new Promise<void>((resolve) => {
        queue.wake = resolve;
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
    }
  }

  #queue(path: string) {
    let queue = this.#queues.get(path);
    if (!queue) this.#queues.set(path, (queue = { events: [] }));
    return queue;
  }
}
