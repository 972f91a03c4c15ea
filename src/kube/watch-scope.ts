// The lifetime of one watch request: it ends when its owner stops, when the stream goes silent for
// too long without closing (a dead NAT entry or a proxy that keeps the socket open), or when the
// owner gives up on it. The informer and the Event stream both watch this way.

export class WatchScope {
  readonly #ctrl = new AbortController();
  readonly #stop: AbortSignal;
  readonly #onStop = () => this.#ctrl.abort();
  readonly #watchdog: ReturnType<typeof setTimeout>;
  #stalled = false;

  /** `inactivityMs`: how long the stream may go without an event or bookmark before it is cut. */
  constructor(stop: AbortSignal, inactivityMs: number) {
    this.#stop = stop;
    stop.addEventListener("abort", this.#onStop, { once: true });
    this.#watchdog = setTimeout(() => {
      this.#stalled = true;
      this.#ctrl.abort();
    }, inactivityMs);
  }

  /** The request's signal. */
  get signal(): AbortSignal {
    return this.#ctrl.signal;
  }

  /** The watchdog cut the stream: nothing arrived in time. */
  get stalled(): boolean {
    return this.#stalled;
  }

  /** Something arrived: the silence is counted from now. */
  alive(): void {
    this.#watchdog.refresh();
  }

  /** Cuts the request for a reason of the owner's. */
  abort(): void {
    this.#ctrl.abort();
  }

  /** Ends the request if it is still open and lets go of the owner's stop signal. */
  close(): void {
    clearTimeout(this.#watchdog);
    this.#stop.removeEventListener("abort", this.#onStop);
    this.#ctrl.abort();
  }
}
