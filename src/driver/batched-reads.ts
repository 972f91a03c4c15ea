// Reads by key that many callers want at the same moment, made together: group commit for reads.
// A read goes out at once when none is in flight; keys asked for while one is, wait for it and go
// out together in the next. So N callers at once cost ⌈(N − 1) / maxKeys⌉ + 1 reads one after
// another, where they were N at once, and a caller waits at most for the read in flight and its
// own. Every caller's answer comes from a read that began after it asked (one asking again for a
// key being read waits for the next read), so a batched answer is never older than one of its
// own would have been.

interface Waiter<V> {
  key: string;
  resolve: (value: V) => void;
  reject: (err: unknown) => void;
}

export class BatchedReads<V> {
  readonly #read: (keys: string[]) => Promise<Map<string, V>>;
  readonly #maxKeys: number;
  #waiting: Waiter<V>[] = [];
  #reading = false;

  /** `read` answers every key it is given; at most `maxKeys` go in one read. */
  constructor(read: (keys: string[]) => Promise<Map<string, V>>, maxKeys: number) {
    this.#read = read;
    this.#maxKeys = maxKeys;
  }

  get(key: string): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      this.#waiting.push({ key, resolve, reject });
      this.#next();
    });
  }

  #next(): void {
    if (this.#reading || this.#waiting.length === 0) return;
    const keys = new Set<string>();
    const batch: Waiter<V>[] = [];
    const rest: Waiter<V>[] = [];
    for (const waiter of this.#waiting) {
      if (keys.size < this.#maxKeys) keys.add(waiter.key);
      (keys.has(waiter.key) ? batch : rest).push(waiter);
    }
    this.#waiting = rest;
    this.#reading = true;
    // Started inside a promise, so a read that throws rather than rejecting still settles.
    Promise.resolve()
      .then(() => this.#read([...keys]))
      .then((answers) => {
        for (const waiter of batch) {
          const answer = answers.get(waiter.key);
          if (answer === undefined) waiter.reject(new Error(`a read of ${keys.size} keys gave no answer for ${waiter.key}`));
          else waiter.resolve(answer);
        }
      })
      // A settled waiter ignores a second settlement, so this reaches only the ones not yet answered.
      .catch((err: unknown) => {
        for (const waiter of batch) waiter.reject(err);
      })
      .finally(() => {
        this.#reading = false;
        this.#next();
      });
  }
}
