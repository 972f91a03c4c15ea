// The driver as the RPCs see it while `serve` connects to the cluster. The socket is bound before
// the first connection attempt ends (a few ms normally, seconds on a loaded API server), so a
// call that comes in the meantime waits for that attempt rather than being turned away: the
// gateway reads UNAVAILABLE as "the driver is down". Once an attempt has failed, calls are
// answered at once with what is wrong, while the retries go on.
import { DriverError } from "../driver/errors";

export class DriverConnection<T> {
  #driver: T | undefined;
  #problem: string;
  #firstAttemptOver = false;
  readonly #waiting = new Set<() => void>();

  constructor(initialProblem: string) {
    this.#problem = initialProblem;
  }

  get current(): T | undefined {
    return this.#driver;
  }

  /** Why there is no driver yet (for /readyz and UNAVAILABLE answers). */
  get problem(): string {
    return this.#problem;
  }

  connected(driver: T): void {
    this.#driver = driver;
    this.#attemptOver();
  }

  failed(problem: string): void {
    this.#problem = problem;
    this.#attemptOver();
  }

  /** The driver; during the first attempt, waits up to `waitMs` for it. Throws UNAVAILABLE. */
  async get(waitMs: number, signal?: AbortSignal): Promise<T> {
    if (this.#driver === undefined && !this.#firstAttemptOver) await this.#waitForFirstAttempt(waitMs, signal);
    if (this.#driver !== undefined) return this.#driver;
    throw new DriverError("Unavailable", `driver is not connected to the cluster yet: ${this.#problem}`);
  }

  #attemptOver(): void {
    this.#firstAttemptOver = true;
    for (const wake of this.#waiting) wake();
    this.#waiting.clear();
  }

  #waitForFirstAttempt(waitMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.#waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      signal?.addEventListener("abort", done, { once: true });
      this.#waiting.add(done);
    });
  }
}
