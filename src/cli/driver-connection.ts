// The driver as the RPCs see it while `serve` connects to the cluster. The socket is bound before
// the first connection attempt ends (a few ms normally, seconds on a loaded API server), so a
// call that comes in the meantime waits for that attempt rather than being turned away: the
// gateway reads UNAVAILABLE as "the driver is down". Once an attempt has failed, calls are
// answered at once with what is wrong, while the retries go on: UNAVAILABLE while the cluster
// cannot be reached, FAILED_PRECONDITION (with its fix) for what only the operator can change (a
// missing SCC grant, no Sandbox API served, a pod feature the API server would drop).
import { DriverError } from "../driver/errors";

export class DriverConnection<T> {
  #driver: T | undefined;
  #problem: string;
  #precondition = false;
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

  /** An attempt failed; `precondition`: the operator must change something before any retry can succeed. */
  failed(problem: string, precondition = false): void {
    this.#problem = problem;
    this.#precondition = precondition;
    this.#attemptOver();
  }

  /** The driver; during the first attempt, waits up to `waitMs` for it. Throws UNAVAILABLE or FAILED_PRECONDITION. */
  async get(waitMs: number, signal?: AbortSignal): Promise<T> {
    if (this.#driver === undefined && !this.#firstAttemptOver) await this.#waitForFirstAttempt(waitMs, signal);
    if (this.#driver !== undefined) return this.#driver;
    if (this.#precondition) throw new DriverError("FailedPrecondition", `the driver refuses to serve this cluster: ${this.#problem}`);
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
