// How a list+watch loop waits before trying again: full jitter, capped low while the API server
// is merely not serving (it may be back any moment, and the watch should follow it within about a
// second), high for a refusal that will not pass by itself, and never shorter than a Retry-After.
import { KubeApiError } from "./errors";

export interface Backoff {
  initialMs: number;
  maxMs: number;
  /**
   * Cap while the API server is unreachable or not serving yet (see `transient`): the watch should
   * follow it back within about this long. Default 1000.
   */
  unavailableMaxMs?: number;
}

const DEFAULT_BACKOFF: Required<Backoff> = { initialMs: 500, maxMs: 30_000, unavailableMaxMs: 1000 };

/** Full jitter: uniform in [0, min(cap, initial·2^attempt)], the cap depending on the failure. */
export function retryDelayMs(attempt: number, err: unknown, backoff: Backoff | undefined, transient: (err: unknown) => boolean): number {
  const { initialMs, maxMs, unavailableMaxMs } = { ...DEFAULT_BACKOFF, ...backoff };
  const cap = Math.min(transient(err) ? unavailableMaxMs : maxMs, initialMs * 2 ** Math.min(attempt, 30));
  const jittered = Math.random() * cap;
  // A 429/503 with Retry-After (API priority and fairness) asks for at least that long.
  const retryAfterMs = err instanceof KubeApiError && err.retryAfterSeconds ? err.retryAfterSeconds * 1000 : 0;
  return Math.min(maxMs, Math.max(jittered, retryAfterMs));
}

/** No response at all, or a server that answers but is overloaded or failing. */
export function serverNotServing(err: unknown): boolean {
  return err instanceof KubeApiError && (err.status === 0 || err.status === 429 || err.status >= 500);
}

/** Resolves after `ms`, or at once when `signal` fires (never rejects: stopping is not a failure). */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
