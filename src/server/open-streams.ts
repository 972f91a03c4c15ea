// Ending every open server stream with UNAVAILABLE on shutdown. A clean end-of-stream tells the
// gateway the watch "ended unexpectedly"; UNAVAILABLE is the status it treats as "reconnect".
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

const ENDED = Symbol("ended");

export class OpenStreams {
  readonly #enders = new Set<() => void>();
  #ending = false;

  /** Streams opened from now on end at once; the open ones end at their next step. */
  endAll(): void {
    this.#ending = true;
    for (const end of this.#enders) end();
  }

  interceptor(): Interceptor {
    return (next) => async (req) => {
      const res = await next(req);
      return res.stream ? { ...res, message: this.#endable(res.message) } : res;
    };
  }

  async *#endable<T>(messages: AsyncIterable<T>): AsyncGenerator<T> {
    let ended = this.#ending;
    // The wait of the current step only. Not Promise.race with one promise for the stream's whole
    // life: every race leaves a reaction on the losing promise, which would keep each message the
    // stream ever sent (10,000 for a new watch's state) until the stream ends.
    let interrupt: (() => void) | undefined;
    const end = () => {
      ended = true;
      interrupt?.();
    };
    this.#enders.add(end);
    const it = messages[Symbol.asyncIterator]();
    try {
      for (;;) {
        // The stream usually sits waiting for the next change; shutdown cuts in on that wait.
        const next = ended
          ? ENDED
          : await new Promise<IteratorResult<T> | typeof ENDED>((resolve, reject) => {
              interrupt = () => resolve(ENDED);
              it.next().then(resolve, reject);
            });
        interrupt = undefined;
        if (next === ENDED) throw new ConnectError("the driver is shutting down; reconnect", Code.Unavailable);
        if (next.done) return;
        yield next.value;
      }
    } finally {
      this.#enders.delete(end);
      // Not awaited: a generator still waiting for its next value finishes once the call's signal
      // fires, which Connect does right after this stream ends.
      void it.return?.()?.catch(() => undefined);
    }
  }
}
