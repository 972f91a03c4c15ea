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
    let end!: () => void;
    const ended = new Promise<typeof ENDED>((resolve) => (end = () => resolve(ENDED)));
    this.#enders.add(end);
    if (this.#ending) end();
    const it = messages[Symbol.asyncIterator]();
    try {
      for (;;) {
        // The stream usually sits waiting for the next change; the race lets shutdown cut in.
        const next = await Promise.race([it.next(), ended]);
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
