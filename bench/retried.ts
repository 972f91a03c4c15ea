// A bench step the API server may refuse under load (a LIST it cuts short, a watch cache behind
// etcd answering 504 "Too large resource version"), tried again: the run measures what answers,
// and says on stderr what did not.
export async function retried<T>(call: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= attempts) throw err;
      console.error(`retrying after: ${(err as Error).message}`);
    }
  }
}
