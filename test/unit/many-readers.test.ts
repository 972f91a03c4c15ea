// Reads whose replies hold every sandbox, under many callers at once: 64 Lists on one connection
// must all be answered (not cut with ENHANCE_YOUR_CALM), only a few are written at a time, and a
// watch stream does not keep what it already sent. The server runs in-process on a temporary socket.
import { afterEach, describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { EventEmitter } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ComputeDriver, DriverSandboxSchema, ListSandboxesResponseSchema, WatchSandboxesEventSchema, type WatchSandboxesEvent } from "../../src/gen/compute_driver_pb";
import { EncodedSandboxes, sandboxEvent } from "../../src/driver/encoded-sandboxes";
import { startGrpcServer } from "../../src/server/grpc-server";
import { LargeReplies } from "../../src/server/large-replies";
import { createMetrics } from "../../src/server/metrics";
import { OpenStreams } from "../../src/server/open-streams";
import { connectClient } from "../support/clients";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(service: Partial<ServiceImpl<typeof ComputeDriver>>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "osdrv-readers-"));
  const socket = join(dir, "driver.sock");
  const server = await startGrpcServer({ socketPath: socket, service, metrics: createMetrics(() => ({})), maxRequestBytes: 1024 * 1024 });
  cleanups.push(async () => {
    await server.close(0);
    rmSync(dir, { recursive: true, force: true });
  });
  return socket;
}

/** A List of `count` sandboxes of ~500 bytes each, the size the driver reports at 10,000. */
function bigList(count: number) {
  return create(ListSandboxesResponseSchema, {
    sandboxes: Array.from({ length: count }, (_, i) =>
      create(DriverSandboxSchema, { id: `sandbox-${i}`, name: `sandbox-${i}`, namespace: "openshell-system", spec: { logLevel: "x".repeat(450) } }),
    ),
  });
}

/** A List handler that counts the Lists it was given and answers none until `release()`. */
function heldLists() {
  const release = deferred();
  const held = {
    started: 0,
    release: release.resolve,
    listSandboxes: async () => {
      held.started++;
      await release.promise;
      return bigList(10);
    },
  };
  return held;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("ListSandboxes under many callers", () => {
  test("64 Lists of 4,000 sandboxes in flight on one connection are all answered in full", async () => {
    // node:http2 (Bun's too) refuses calls with ENHANCE_YOUR_CALM, then ends the connection, while
    // more than maxSessionMemory (default 10 MB) waits to be sent to a reader still decoding.
    const reply = bigList(4000);
    const socket = await serve({ listSandboxes: () => reply });
    const client = connectClient(socket);
    const results = await Promise.allSettled(Array.from({ length: 64 }, () => client.listSandboxes({})));
    const failures = results.flatMap((r) => (r.status === "rejected" ? [String(r.reason)] : []));
    expect(failures).toEqual([]);
    for (const r of results) expect(r.status === "fulfilled" && r.value.sandboxes.length).toBe(4000);
  });

  test("only two Lists are worked on at once; the others start as those are answered", async () => {
    const held = heldLists();
    const socket = await serve({
      listSandboxes: held.listSandboxes,
      getCapabilities: () => ({ driverName: "scripted", driverVersion: "0", defaultImage: "", gatewayManagesLifecycle: false }),
    });
    const client = connectClient(socket);
    const lists = Array.from({ length: 10 }, () => client.listSandboxes({}));
    // Other calls are not held up behind the waiting Lists.
    expect((await client.getCapabilities({})).driverName).toBe("scripted");
    expect(held.started).toBe(2);
    held.release();
    expect((await Promise.all(lists)).map((r) => r.sandboxes.length)).toEqual(Array(10).fill(10));
    expect(held.started).toBe(10);
  });

  test("a List whose caller hangs up while it waits for its turn never reaches the driver", async () => {
    const held = heldLists();
    const socket = await serve({ listSandboxes: held.listSandboxes });
    const client = connectClient(socket);
    const answered = [client.listSandboxes({}), client.listSandboxes({})];
    const abort = new AbortController();
    const gaveUp = client.listSandboxes({}, { signal: abort.signal }).then(
      () => "answered",
      () => "gave up",
    );
    await Bun.sleep(50);
    abort.abort();
    expect(await gaveUp).toBe("gave up");
    await Bun.sleep(50);
    held.release();
    await Promise.all(answered);
    const after = await client.listSandboxes({});
    expect(after.sandboxes).toHaveLength(10);
    expect(held.started).toBe(3);
  });
});

describe("LargeReplies", () => {
  function response(): EventEmitter {
    return new EventEmitter();
  }

  test("with every slot taken, a call waits and starts, in arrival order, when a reply closes", () => {
    const gate = new LargeReplies(2, 60_000);
    const started: string[] = [];
    const responses = ["a", "b", "c", "d"].map((name) => {
      const res = response();
      gate.admit(res, () => started.push(name));
      return res;
    });
    expect(started).toEqual(["a", "b"]);
    responses[1]!.emit("close");
    expect(started).toEqual(["a", "b", "c"]);
    responses[0]!.emit("close");
    expect(started).toEqual(["a", "b", "c", "d"]);
  });

  test("a waiting call whose caller hangs up never starts, and the next one takes its turn", () => {
    const gate = new LargeReplies(1, 60_000);
    const started: string[] = [];
    const first = response();
    const gone = response();
    gate.admit(first, () => started.push("first"));
    gate.admit(gone, () => started.push("gone"));
    gate.admit(response(), () => started.push("next"));
    gone.emit("close");
    first.emit("close");
    expect(started).toEqual(["first", "next"]);
  });

  test("a reply its reader stops reading gives its slot back after the hold time", async () => {
    const gate = new LargeReplies(1, 20);
    const started: string[] = [];
    const stuck = response();
    gate.admit(stuck, () => started.push("stuck"));
    const nextStarted = deferred();
    gate.admit(response(), () => {
      started.push("next");
      // The late close of the stuck reply does not free a second slot.
      gate.admit(response(), () => started.push("third"));
      stuck.emit("close");
      nextStarted.resolve();
    });
    expect(started).toEqual(["stuck"]);
    await nextStarted.promise;
    expect(started).toEqual(["stuck", "next"]);
  });
});

describe("watch streams under many readers", () => {
  test("a stream does not keep the messages it has already sent", async () => {
    const sent: WeakRef<object>[] = [];
    const streams = new OpenStreams();
    async function* messages(): AsyncGenerator<WatchSandboxesEvent> {
      for (let i = 0; i < 2000; i++) {
        const event = create(WatchSandboxesEventSchema, { payload: { case: "deleted", value: { sandboxId: `s-${i}` } } });
        sent.push(new WeakRef(event));
        yield event;
      }
      await new Promise(() => undefined); // then waits for changes, as a watch does
    }
    const intercepted = (await streams.interceptor()(async () => ({ stream: true, message: messages() }) as never)({} as never)) as unknown as {
      message: AsyncIterable<WatchSandboxesEvent>;
    };
    const it = intercepted.message[Symbol.asyncIterator]();
    for (let i = 0; i < 2000; i++) await it.next();
    const ended = it.next();
    Bun.gc(true);
    await Bun.sleep(0);
    Bun.gc(true);
    const kept = sent.filter((ref) => ref.deref() !== undefined).length;
    expect(kept).toBeLessThan(20);
    streams.endAll();
    await expect(ended).rejects.toThrow("shutting down");
  });

  test("every stream's initial state shares one message per sandbox instead of building its own", () => {
    const encoded = new EncodedSandboxes();
    encoded.set("a", create(DriverSandboxSchema, { id: "a", name: "a" }), { namespace: "ns", name: "a" });
    const [entry] = encoded.ordered();
    expect(sandboxEvent(entry!, "binary")).toBe(sandboxEvent(entry!, "binary"));
    // JSON streams get their own full message.
    expect(sandboxEvent(entry!, "json")).not.toBe(sandboxEvent(entry!, "json"));
  });
});
