// Fan-out of sandbox observations to every open WatchSandboxes stream. One shared set of
// Kubernetes watches feeds the hub; each stream gets its own bounded queue so a slow reader
// cannot hold up the others or grow memory without bound.
import type { WatchSandboxesEvent } from "../gen/compute_driver_pb";
import { DriverError } from "./errors";

/** Beyond this many undelivered events a stream is ended; the gateway reopens it and gets full state. */
export const MAX_QUEUED_EVENTS = 10_000;

interface Subscriber {
  queue: WatchSandboxesEvent[];
  wake: (() => void) | undefined;
  failure: DriverError | undefined;
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
        sub.failure = new DriverError(
          "ResourceExhausted",
          `watch stream fell more than ${MAX_QUEUED_EVENTS} events behind; reopen it to receive the full state`,
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
   * A stream that first yields the full current state, then every published event. The stream is
   * registered before `initial` is called, in the same synchronous call, so no change can fall
   * between the state it hands out and the changes queued after it.
   */
  subscribe(initial: () => WatchSandboxesEvent[], signal: AbortSignal): AsyncGenerator<WatchSandboxesEvent> {
    const sub: Subscriber = { queue: [], wake: undefined, failure: undefined, closed: false };
    this.#subscribers.add(sub);
    sub.queue.push(...initial());
    // Unregistered on abort even if the stream is never pulled (a generator's finally would not run).
    const onAbort = () => {
      sub.closed = true;
      this.#subscribers.delete(sub);
      sub.wake?.();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    return this.#drain(sub, signal, onAbort);
  }

  async *#drain(sub: Subscriber, signal: AbortSignal, onAbort: () => void): AsyncGenerator<WatchSandboxesEvent> {
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
