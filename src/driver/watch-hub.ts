// Fan-out of sandbox observations to every open WatchSandboxes stream. One shared set of
// Kubernetes watches feeds the hub; each stream gets its own bounded queue so a slow reader
// cannot hold up the others or grow memory without bound. A change can come with a pre-encoded
// form (encoded-sandboxes.ts), which binary streams send instead, so the sandbox is not encoded
// again for every stream.
import type { WatchSandboxesEvent } from "../gen/compute_driver_pb";
import type { ReplyCodec } from "./encoded-sandboxes";
import { DriverError } from "./errors";

/** Beyond this many undelivered events a stream is ended; the gateway reopens it and gets full state. */
export const MAX_QUEUED_EVENTS = 10_000;

interface Subscriber {
  /** The state when the stream opened; not counted against MAX_QUEUED_EVENTS, which is about changes. */
  initial: WatchSandboxesEvent[];
  /** Changes since; `head` is the next to send (Array.shift is linear, and this can be long). */
  queue: WatchSandboxesEvent[];
  head: number;
  wake: (() => void) | undefined;
  failure: DriverError | undefined;
  closed: boolean;
  preEncoded: boolean;
}

export class WatchHub {
  readonly #subscribers = new Set<Subscriber>();

  get size(): number {
    return this.#subscribers.size;
  }

  /** `preEncoded`, when given, must encode to the same bytes as `event` (binary streams get it). */
  publish(event: WatchSandboxesEvent, preEncoded?: WatchSandboxesEvent): void {
    for (const sub of this.#subscribers) {
      if (sub.closed) continue;
      if (sub.queue.length - sub.head >= MAX_QUEUED_EVENTS) {
        sub.failure = new DriverError(
          "ResourceExhausted",
          `watch stream fell more than ${MAX_QUEUED_EVENTS} events behind; reopen it to receive the full state`,
        );
        sub.closed = true;
        sub.queue = [];
        sub.head = 0;
      } else {
        sub.queue.push(sub.preEncoded && preEncoded ? preEncoded : event);
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
   * between the state it hands out and the changes queued after it. `codec` is the stream's: a
   * JSON stream cannot carry pre-encoded events.
   */
  subscribe(initial: () => WatchSandboxesEvent[], signal: AbortSignal, codec: ReplyCodec): AsyncGenerator<WatchSandboxesEvent> {
    const sub: Subscriber = { initial: [], queue: [], head: 0, wake: undefined, failure: undefined, closed: false, preEncoded: codec === "binary" };
    this.#subscribers.add(sub);
    sub.initial = initial();
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
      for (let i = 0; i < sub.initial.length && !signal.aborted; i++) yield sub.initial[i]!;
      sub.initial = [];
      while (!signal.aborted) {
        if (sub.head < sub.queue.length) {
          const next = sub.queue[sub.head++]!;
          // Drop what was sent once it is most of the array, so a reader that never quite
          // catches up does not keep every event it ever got.
          if (sub.head === sub.queue.length || sub.head >= 1024 && sub.head * 2 >= sub.queue.length) {
            sub.queue = sub.queue.slice(sub.head);
            sub.head = 0;
          }
          yield next;
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
