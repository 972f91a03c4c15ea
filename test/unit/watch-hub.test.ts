import { describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { WatchSandboxesEventSchema } from "../../src/gen/compute_driver_pb";
import { DriverError } from "../../src/driver/errors";
import { MAX_QUEUED_EVENTS, WatchHub } from "../../src/driver/watch-hub";

const deleted = (id: string) => create(WatchSandboxesEventSchema, { payload: { case: "deleted", value: { sandboxId: id } } });
const idOf = (e: ReturnType<typeof deleted>) => (e.payload.case === "deleted" ? e.payload.value.sandboxId : "?");

describe("watch fan-out", () => {
  test("every stream gets the initial state first, then every published event in order", async () => {
    const hub = new WatchHub();
    const abort = new AbortController();
    const a = hub.subscribe(() => [deleted("initial-a")], abort.signal, "json");
    const b = hub.subscribe(() => [], abort.signal, "json");
    const first = await a.next();
    const bFirst = b.next();
    await Bun.sleep(0);
    hub.publish(deleted("one"));
    hub.publish(deleted("two"));
    expect(idOf(first.value!)).toBe("initial-a");
    expect(idOf((await a.next()).value!)).toBe("one");
    expect(idOf((await a.next()).value!)).toBe("two");
    expect(idOf((await bFirst).value!)).toBe("one");
    expect(hub.size).toBe(2);
    abort.abort();
    expect((await a.next()).done).toBe(true);
    expect((await b.next()).done).toBe(true);
    expect(hub.size).toBe(0);
  });

  test("a change published after subscribing but before the first read is delivered after the initial state", async () => {
    const hub = new WatchHub();
    const stream = hub.subscribe(() => [deleted("state")], new AbortController().signal, "json");
    hub.publish(deleted("right-after"));
    expect(idOf((await stream.next()).value!)).toBe("state");
    expect(idOf((await stream.next()).value!)).toBe("right-after");
  });

  test("a stream cancelled before it is ever read leaves the hub", () => {
    const hub = new WatchHub();
    const abort = new AbortController();
    hub.subscribe(() => [], abort.signal, "json");
    expect(hub.size).toBe(1);
    abort.abort();
    expect(hub.size).toBe(0);
  });

  test("closeAll ends streams cleanly after what was already queued", async () => {
    const hub = new WatchHub();
    const stream = hub.subscribe(() => [deleted("x")], new AbortController().signal, "json");
    await stream.next();
    hub.publish(deleted("queued"));
    hub.closeAll();
    expect(idOf((await stream.next()).value!)).toBe("queued");
    expect((await stream.next()).done).toBe(true);
  });

  test("a new stream's state, however many sandboxes it holds, does not count as falling behind", async () => {
    const hub = new WatchHub();
    const state = Array.from({ length: MAX_QUEUED_EVENTS + 5 }, (_, i) => deleted(`s${i}`));
    const stream = hub.subscribe(() => state, new AbortController().signal, "binary");
    hub.publish(deleted("change"));
    const ids: string[] = [];
    for (let i = 0; i <= state.length; i++) ids.push(idOf((await stream.next()).value!));
    expect(ids.length).toBe(MAX_QUEUED_EVENTS + 6);
    expect(ids.at(-1)).toBe("change");
  });

  test("a reader that keeps lagging thousands of events behind still gets every event once, in order", async () => {
    const hub = new WatchHub();
    const stream = hub.subscribe(() => [], new AbortController().signal, "json");
    const ids: string[] = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 3000; i++) hub.publish(deleted(`${round}-${i}`));
      for (let i = 0; i < 2000; i++) ids.push(idOf((await stream.next()).value!));
    }
    for (let i = 0; i < 4000; i++) ids.push(idOf((await stream.next()).value!));
    expect(ids).toEqual(Array.from({ length: 4 }, (_, round) => Array.from({ length: 3000 }, (_, i) => `${round}-${i}`)).flat());
  });

  test("binary streams get a change's pre-encoded form and JSON streams the message", async () => {
    const hub = new WatchHub();
    const abort = new AbortController();
    const binary = hub.subscribe(() => [], abort.signal, "binary");
    const json = hub.subscribe(() => [], abort.signal, "json");
    const [message, preEncoded] = [deleted("m"), deleted("m")];
    hub.publish(message, preEncoded);
    expect((await binary.next()).value).toBe(preEncoded);
    expect((await json.next()).value).toBe(message);
    abort.abort();
  });

  test("a stream that falls too far behind ends with RESOURCE_EXHAUSTED instead of growing without bound", async () => {
    const hub = new WatchHub();
    const slow = hub.subscribe(() => [deleted("start")], new AbortController().signal, "json");
    await slow.next();
    for (let i = 0; i <= MAX_QUEUED_EVENTS; i++) hub.publish(deleted(`e${i}`));
    const err = await slow.next().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect((err as DriverError).code).toBe("ResourceExhausted");
  });
});
