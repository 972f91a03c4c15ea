// Answers the API server gave a moment ago, reused for a short while instead of asked again. For
// facts that change rarely and that a check only advises on (a namespace's labels, a claim that
// exists): under a burst of creates each read costs as much as the create itself, and the API
// server decides for real at admission anyway. Callers forget an answer that led to a refusal, so
// fixing what was refused takes effect on the next call.

/** Entries kept at most; the oldest go first (a gateway refers to few distinct objects). */
const MAX_ENTRIES = 1024;

export class RecentAnswers<T> {
  readonly #ttlMs: number;
  readonly #now: () => number;
  /** In insertion order, so the first key is the oldest. */
  readonly #entries = new Map<string, { value: T; until: number }>();

  constructor(ttlMs: number, now: () => number = () => performance.now()) {
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  /** The answer for `key` if it is recent enough, else `ask()`'s, remembered. A failed ask is not. */
  async get(key: string, ask: () => Promise<T>): Promise<T> {
    const entry = this.#entries.get(key);
    if (entry && entry.until > this.#now()) return entry.value;
    const value = await ask();
    this.#entries.delete(key);
    this.#entries.set(key, { value, until: this.#now() + this.#ttlMs });
    if (this.#entries.size > MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
    return value;
  }

  forget(key: string): void {
    this.#entries.delete(key);
  }
}
