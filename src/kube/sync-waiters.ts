// The callers waiting for an informer's first sync: each resolves when it syncs, or rejects when
// the informer stops first or the caller's own signal aborts (its waiter is then forgotten, so a
// caller that gives up leaves nothing behind).

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class SyncWaiters {
  readonly #waiting = new Set<Waiter>();

  wait(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject: (e: unknown) => {
          signal?.removeEventListener("abort", onAbort);
          reject(e);
        },
      };
      const onAbort = () => {
        this.#waiting.delete(waiter);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiting.add(waiter);
    });
  }

  resolveAll(): void {
    for (const w of this.#waiting) w.resolve();
    this.#waiting.clear();
  }

  rejectAll(reason: Error): void {
    for (const w of this.#waiting) w.reject(reason);
    this.#waiting.clear();
  }
}
