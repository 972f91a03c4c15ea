// What a request's headers can do to the gRPC server, each case one the header fuzz found, on the
// real server edge (node:http2 + Connect) with a scripted service, over a client that writes its own
// HTTP/2 frames so every header goes on the wire exactly as a hostile or unusual client would send it.
import { afterEach, describe, expect, test } from "bun:test";
import type { ServiceImpl } from "@connectrpc/connect";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ComputeDriver } from "../../src/gen/compute_driver_pb";
import { startGrpcServer } from "../../src/server/grpc-server";
import { createMetrics } from "../../src/server/metrics";
import { RawHttp2Connection, field, type Field, type StreamOutcome } from "../support/raw-http2";

type Service = Partial<ServiceImpl<typeof ComputeDriver>>;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(service: Service): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "osdrv-headers-"));
  const socket = join(dir, "driver.sock");
  const server = await startGrpcServer({ socketPath: socket, service, metrics: createMetrics(() => ({})), maxRequestBytes: 4 * 1024 * 1024 });
  cleanups.push(async () => {
    await server.close(0);
    rmSync(dir, { recursive: true, force: true });
  });
  return socket;
}

async function open(socket: string): Promise<RawHttp2Connection> {
  const connection = await RawHttp2Connection.open(socket);
  cleanups.push(() => connection.close());
  return connection;
}

/** A gRPC request's fields as a conforming client sends them, plus `extra`. */
function call(method: string, extra: Field[] = [], path = `/${ComputeDriver.typeName}/${method}`): Field[] {
  return [[":method", "POST"], [":scheme", "http"], [":path", path], [":authority", "localhost"], ["content-type", "application/grpc"], ["te", "trailers"], ...extra];
}

/** One empty message, gRPC-framed: every request message of these methods may be empty. */
const EMPTY_MESSAGE = new Uint8Array(5);

function grpcStatus(outcome: StreamOutcome): string | undefined {
  return field(outcome.trailers, "grpc-status") ?? field(outcome.headers, "grpc-status");
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A connection to a scripted server with one GetSandbox held open until `slow` resolves. */
async function connectionWithCallInFlight() {
  const slow = deferred();
  const socket = await serve({
    getSandbox: async () => {
      await slow.promise;
      return {};
    },
    getCapabilities: () => ({ driverName: "scripted" }),
  });
  const connection = await open(socket);
  const inFlight = connection.request(call("GetSandbox"), { body: EMPTY_MESSAGE });
  return { connection, inFlight, slow };
}

describe("request headers", () => {
  // gRPC PROTOCOL-HTTP2.md: TimeoutValue is a positive integer of at most 8 digits, so 99999999H
  // (~11,000 years) is a valid deadline; a timer holds at most 2^31-1 ms (~24.8 days).
  test("a call whose grpc-timeout lies beyond what a timer can hold runs to its answer instead of ending DEADLINE_EXCEEDED at once", async () => {
    const socket = await serve({
      getSandbox: async (_req, ctx) => {
        await Bun.sleep(50);
        ctx.signal.throwIfAborted();
        return {};
      },
    });
    const connection = await open(socket);
    for (const timeout of ["99999999H", "720H", "2147484S"]) {
      const outcome = await connection.request(call("GetSandbox", [["grpc-timeout", timeout]]), { body: EMPTY_MESSAGE });
      expect({ timeout, status: grpcStatus(outcome) }).toEqual({ timeout, status: "0" });
    }
    // A deadline a timer can hold is still enforced.
    const short = await connection.request(call("GetSandbox", [["grpc-timeout", "5m"]]), { body: EMPTY_MESSAGE });
    expect(grpcStatus(short)).toBe("4");
  });

  // gRPC PROTOCOL-HTTP2.md: a call past its grpc-timeout ends DEADLINE_EXCEEDED.
  test("a watch that returns when its deadline passes ends DEADLINE_EXCEEDED, not OK", async () => {
    const socket = await serve({
      async *watchSandboxes(_req, ctx) {
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
      },
    });
    const connection = await open(socket);
    const outcome = await connection.request(call("WatchSandboxes", [["grpc-timeout", "50m"]]), { body: EMPTY_MESSAGE });
    expect(grpcStatus(outcome)).toBe("4");
  });

  // gRPC PROTOCOL-HTTP2.md: a server answers a content-type it does not serve with HTTP 415.
  test("a Connect or gRPC-Web request is refused 415 Unsupported Media Type: the driver serves gRPC only", async () => {
    const socket = await serve({ getCapabilities: () => ({ driverName: "scripted" }) });
    const connection = await open(socket);
    for (const contentType of ["application/proto", "application/json", "application/connect+proto", "application/grpc-web+proto", "application/grpc-web-text"]) {
      const fields = call("GetCapabilities", [["connect-protocol-version", "1"]]).map(([n, v]): Field => (n === "content-type" ? [n, contentType] : [n, v]));
      const outcome = await connection.request(fields, { body: contentType.includes("grpc") ? EMPTY_MESSAGE : new Uint8Array() });
      expect({ contentType, status: field(outcome.headers, ":status") }).toEqual({ contentType, status: "415" });
    }
    expect(grpcStatus(await connection.request(call("GetCapabilities"), { body: EMPTY_MESSAGE }))).toBe("0");
  });

  // RFC 9113 §8.1.1: a malformed request is a stream error; node:http2 ends the connection after
  // 100 rejected streams or 1000 invalid frames unless told otherwise.
  test("a connection that sent a thousand malformed requests still answers the call it has in flight, and the next", async () => {
    const { connection, inFlight, slow } = await connectionWithCallInFlight();
    const resets = new Set<number | undefined>();
    for (let i = 0; i < 1100; i++) resets.add((await connection.request(call("GetCapabilities", [["X-Uppercase-Name", "1"]]), { body: EMPTY_MESSAGE })).rstCode);
    // PROTOCOL_ERROR: uppercase field names are malformed in HTTP/2 (RFC 9113 §8.2.1).
    expect([...resets]).toEqual([1]);
    expect(grpcStatus(await connection.request(call("GetCapabilities"), { body: EMPTY_MESSAGE }))).toBe("0");
    slow.resolve();
    expect(grpcStatus(await inFlight)).toBe("0");
    expect(connection.closed).toBe(false);
  });

  // RFC 9113 §8.1.1: a malformed request is a stream error, the connection's other streams go on;
  // gRPC core clients read at most 8 KiB of metadata by default, a status message longer than that
  // reaches them as a different error.
  test("a status message that quotes a huge request header is cut short, and the other calls on the connection are answered", async () => {
    const { connection, inFlight, slow } = await connectionWithCallInFlight();
    // Printable ASCII with inner spaces is a valid field value; percent-encoded it triples.
    const timeout = `1${" ".repeat(30_000)}S`;
    const refused = await connection.request(call("GetCapabilities", [["grpc-timeout", timeout]]), { body: EMPTY_MESSAGE });
    expect(grpcStatus(refused)).toBe("3");
    expect(field(refused.trailers, "grpc-message")!.length).toBeLessThanOrEqual(4096);
    expect(decodeURIComponent(field(refused.trailers, "grpc-message")!)).toStartWith("protocol error: invalid grpc timeout value: 1 ");
    const next = await connection.request(call("GetCapabilities"), { body: EMPTY_MESSAGE });
    expect(grpcStatus(next)).toBe("0");
    slow.resolve();
    expect(grpcStatus(await inFlight)).toBe("0");
    expect(connection.closed).toBe(false);
  });

  test("a status message with multi-byte characters is cut on a character boundary", async () => {
    const socket = await serve({ getCapabilities: () => ({ driverName: "scripted" }) });
    const connection = await open(socket);
    // obs-text (RFC 9110 §5.5): bytes 0x80-0xFF are allowed in a field value.
    const refused = await connection.request(call("GetCapabilities", [["grpc-encoding", "\u00e9".repeat(20_000)]]), { body: EMPTY_MESSAGE });
    expect(grpcStatus(refused)).toBe("12");
    const message = field(refused.trailers, "grpc-message")!;
    expect(message.length).toBeLessThanOrEqual(4096);
    expect(() => decodeURIComponent(message)).not.toThrow();
    expect(connection.closed).toBe(false);
  });

  // RFC 9113 §8.3.1: :path is the path and query; Connect routes on the path alone.
  test("a ListSandboxes whose :path carries a query waits for a large-reply slot like every other List", async () => {
    const release = deferred();
    let started = 0;
    const socket = await serve({
      listSandboxes: async () => {
        started++;
        await release.promise;
        return {};
      },
    });
    const connection = await open(socket);
    const path = `/${ComputeDriver.typeName}/ListSandboxes`;
    const held = [connection.request(call("ListSandboxes"), { body: EMPTY_MESSAGE }), connection.request(call("ListSandboxes"), { body: EMPTY_MESSAGE })];
    while (started < 2) await Bun.sleep(5);
    const queued = connection.request(call("ListSandboxes", [], `${path}?page=2`), { body: EMPTY_MESSAGE });
    // A call that does not wait would have reached the handler by the time this one is answered.
    const probe = await connection.request(call("GetCapabilities"), { body: EMPTY_MESSAGE });
    expect(grpcStatus(probe)).toBe("12");
    expect(started).toBe(2);
    release.resolve();
    expect((await Promise.all([...held, queued])).map(grpcStatus)).toEqual(["0", "0", "0"]);
    expect(started).toBe(3);
  });
});
