// Fan-out of sandbox observations to every open WatchSandboxes stream. One shared set of
// Kubernetes watches feeds the hub; each stream gets its own bounded queue so a slow reader
// cannot hold up the others or grow memory without bound.
import { Code, ConnectError } from "@connectrpc/connect";
import type { WatchSandboxesEvent } from "../gen/compute_driver_pb";

/** Beyond this many undelivered events a stream is ended; the gateway reopens it and gets full state. */
export const MAX_QUEUED_EVENTS = 10_000;

interface Subscriber {
  queue: WatchSandboxesEvent[];
  wake: (() => void) | undefined;
  failure: ConnectError | undefined;
  closed: boolean;
}

export class WatchHub {
  readonly #subscribers = new Set<Subscriber>();

  get size(): number {
    return this.#subscribers.size;
  }

  publish(event: WatchSandboxesEvent): void {
    for (const sub of this.#subscribers) {
      if (sub.closed) continue;
      if (sub.queue.length >= MAX_QUEUED_EVENTS) {
        sub.failure = new ConnectError(
          `watch stream fell more than ${MAX_QUEUED_EVENTS} events behind; reopen it to receive the full state`,
          Code.ResourceExhausted,
        );
        sub.closed = true;
        sub.queue.length = 0;
      } else {
        sub.queue.push(event);
      }
      sub.wake?.();
    }
  }

  /** Ends every stream cleanly (OK status); used on shutdown. */
  closeAll(): void {
    for (const sub of this.#subscribers) {
      sub.closed = true;
      sub.wake?.();
    }
  }

  /**
   * A stream that first yields `initial` (the full current state, computed by the caller in the
   * same tick as this call so no change can fall between the two) and then every published event.
   */
  async *subscribe(initial: WatchSandboxesEvent[], signal: AbortSignal): AsyncGenerator<WatchSandboxesEvent> {
    const sub: Subscriber = { queue: [...initial], wake: undefined, failure: undefined, closed: false };
    this.#subscribers.add(sub);
    const onAbort = () => {
      sub.closed = true;
      sub.wake?.();
    };
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        if (sub.queue.length > 0) {
          yield sub.queue.shift()!;
          continue;
        }
        if (sub.failure) throw sub.failure;
        if (sub.closed) return;
        await new Promise<void>((resolve) => (sub.wake = resolve));
        sub.wake = undefined;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.#subscribers.delete(sub);
    }
  }
}
