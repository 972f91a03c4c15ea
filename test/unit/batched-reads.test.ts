// BatchedReads: what many callers ask for at once costs a few reads, never an answer older than
// the caller's own read would have been.
import { expect, test } from "bun:test";
import { BatchedReads } from "../../src/driver/batched-reads";

/** A read the test finishes by hand, recording the keys each read was given. */
function heldReads() {
  const reads: { keys: string[]; finish: (fail?: Error) => void }[] = [];
  const batched = new BatchedReads<string>(
    (keys) =>
      new Promise((resolve, reject) => {
        reads.push({ keys, finish: (fail) => (fail ? reject(fail) : resolve(new Map(keys.map((k) => [k, `answer for ${k}`])))) });
      }),
    3,
  );
  /** Ends read `i` and lets the next one, if any, go out. */
  const finish = async (i: number, fail?: Error) => {
    reads[i]!.finish(fail);
    await Bun.sleep(0);
  };
  return { batched, reads, finish };
}

test("a key asked for while no read is in flight is read at once, alone", async () => {
  const { batched, reads, finish } = heldReads();
  const answer = batched.get("a");
  await Bun.sleep(0);
  expect(reads.map((r) => r.keys)).toEqual([["a"]]);
  await finish(0);
  expect(await answer).toBe("answer for a");
});

test("keys asked for during a read wait for it to end and go out together, at most maxKeys a read", async () => {
  const { batched, reads, finish } = heldReads();
  const answers = ["a", "b", "c", "d", "e", "f"].map((k) => batched.get(k));
  await Bun.sleep(0);
  expect(reads.map((r) => r.keys)).toEqual([["a"]]);
  await finish(0);
  expect(reads.map((r) => r.keys)).toEqual([["a"], ["b", "c", "d"]]);
  await finish(1);
  expect(reads.map((r) => r.keys)).toEqual([["a"], ["b", "c", "d"], ["e", "f"]]);
  await finish(2);
  expect(await Promise.all(answers)).toEqual(["a", "b", "c", "d", "e", "f"].map((k) => `answer for ${k}`));
});

test("callers asking for the same key share one read of it, and a key's repeats do not count against maxKeys", async () => {
  const { batched, reads, finish } = heldReads();
  const first = batched.get("a");
  const waiting = ["x", "x", "y", "x", "z"].map((k) => batched.get(k));
  await Bun.sleep(0);
  await finish(0);
  expect(await first).toBe("answer for a");
  expect(reads[1]!.keys).toEqual(["x", "y", "z"]);
  await finish(1);
  expect(await Promise.all(waiting)).toEqual(["answer for x", "answer for x", "answer for y", "answer for x", "answer for z"]);
});

test("a failed read fails every caller in it, and the callers after it get a read of their own", async () => {
  const { batched, reads, finish } = heldReads();
  const first = batched.get("a").catch((err: Error) => err.message);
  const second = batched.get("b");
  await Bun.sleep(0);
  await finish(0, new Error("API server unreachable"));
  expect(await first).toBe("API server unreachable");
  expect(reads[1]!.keys).toEqual(["b"]);
  await finish(1);
  expect(await second).toBe("answer for b");
});

test("a caller asking for a key that is being read waits for the next read, not the one in flight", async () => {
  const { batched, reads, finish } = heldReads();
  const first = batched.get("a");
  const again = batched.get("a");
  await Bun.sleep(0);
  await finish(0);
  expect(await first).toBe("answer for a");
  expect(reads.map((r) => r.keys)).toEqual([["a"], ["a"]]);
  await finish(1);
  expect(await again).toBe("answer for a");
});

test("a read that throws instead of rejecting fails its callers, and the next caller still gets a read", async () => {
  let calls = 0;
  const batched = new BatchedReads<string>((keys) => {
    if (calls++ === 0) throw new Error("selector refused");
    return Promise.resolve(new Map(keys.map((k) => [k, `answer for ${k}`])));
  }, 3);
  expect(await batched.get("a").catch((err: Error) => err.message)).toBe("selector refused");
  expect(await batched.get("b")).toBe("answer for b");
});

test("a read that gives no answer for a key fails that key's callers only", async () => {
  const batched = new BatchedReads<string>(async (keys) => new Map(keys.filter((k) => k !== "b").map((k) => [k, `answer for ${k}`])), 3);
  const first = batched.get("x");
  const rest = ["a", "b", "c"].map((k) => batched.get(k).catch((err: Error) => err.message));
  await first;
  expect(await Promise.all(rest)).toEqual(["answer for a", "a read of 3 keys gave no answer for b", "answer for c"]);
});
