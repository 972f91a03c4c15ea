// Whether the Kubernetes API answers, kept current in the background: /readyz reads the last
// result and never waits on the API itself, which can take the whole kube timeout to fail.
export interface ApiReachabilityOptions {
  /** Pause between the end of one check and the start of the next. */
  intervalMs: number;
  /** A check still unanswered after this long already counts as a failure. */
  stalledAfterMs: number;
  now?: () => number;
}

export class ApiReachability {
  readonly #check: () => Promise<unknown>;
  readonly #opts: Required<ApiReachabilityOptions>;
  #problem: string | undefined = "the Kubernetes API has not answered yet";
  #pendingSince: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(check: () => Promise<unknown>, opts: ApiReachabilityOptions) {
    this.#check = check;
    this.#opts = { ...opts, now: opts.now ?? (() => performance.now()) };
  }

  start(): void {
    void this.#probe();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** Undefined while the API answers, else what is wrong. */
  problem(): string | undefined {
    if (this.#pendingSince !== undefined) {
      const waited = this.#opts.now() - this.#pendingSince;
      if (waited > this.#opts.stalledAfterMs) return `the Kubernetes API has not answered for ${Math.floor(waited / 1000)} s`;
    }
    return this.#problem;
  }

  async #probe(): Promise<void> {
    this.#pendingSince = this.#opts.now();
    try {
      await this.#check();
      this.#problem = undefined;
    } catch (err) {
      this.#problem = `the Kubernetes API is unreachable: ${err instanceof Error ? err.message : String(err)}`;
    }
    this.#pendingSince = undefined;
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#probe(), this.#opts.intervalMs);
    this.#timer.unref?.();
  }
}
