// Reads by key that many callers want at the same moment, made together. A read goes out at once
// when none is in flight; keys asked for while one is, wait for it and go out together in the
// next. Why: a Get miss is confirmed with a label-selected LIST, and the API server answers one by
// walking every Sandbox of the namespace in memory (it keeps no label index for custom
// resources), so 16 misses at once were 16 walks of the fleet competing for its CPU; now they are
// at most two, one after the other. Every caller's answer comes from a read that began after it
// asked, so a batched answer is never older than one of its own would have been.

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

  /** `read` answers every key it is given; at most `maxKeys` go in one read (a selector's length is bounded). */
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
    this.#read([...keys])
      .then(
        (answers) => {
          for (const waiter of batch) {
            if (answers.has(waiter.key)) waiter.resolve(answers.get(waiter.key)!);
            else waiter.reject(new Error(`the read of ${keys.size} keys gave no answer for ${waiter.key}`));
          }
        },
        (err) => {
          for (const waiter of batch) waiter.reject(err);
        },
      )
      .finally(() => {
        this.#reading = false;
        this.#next();
      });
  }
}
