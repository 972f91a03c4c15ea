// The gRPC server edge in-process, with a scripted service on a temporary socket: the request size
// cap, the peer check, what /metrics counts, and the order of a shutdown.
import { afterEach, describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { consola, type LogObject } from "consola";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import http2 from "node:http2";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ComputeDriver, GetCapabilitiesRequestSchema, ValidateSandboxCreateRequestSchema, type WatchSandboxesEvent } from "../../src/gen/compute_driver_pb";
import { startGrpcServer, type GrpcServer } from "../../src/server/grpc-server";
import { requestBoundary } from "../../src/server/request-boundary";
import { createMetrics, type Metrics } from "../../src/server/metrics";
import { PeerCredentialsError, type PeerCredentials } from "../../src/server/peer-credentials";
import { connectClient, GrpcJsClient } from "../support/clients";
import { eventually } from "../support/cluster";

type Service = Partial<ServiceImpl<typeof ComputeDriver>>;

interface Harness {
  socket: string;
  dir: string;
  server: GrpcServer;
  metrics: Metrics;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const capabilities: Service = {
  getCapabilities: () => ({ driverName: "scripted", driverVersion: "0", defaultImage: "", gatewayManagesLifecycle: false }),
};

async function serve(service: Service, opts: { maxRequestBytes?: number; peerCredentials?: PeerCredentials } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "osdrv-grpc-"));
  const socket = join(dir, "driver.sock");
  const metrics = createMetrics(() => ({}));
  const server = await startGrpcServer({
    socketPath: socket,
    service,
    metrics,
    maxRequestBytes: opts.maxRequestBytes ?? 4 * 1024 * 1024,
    peerCredentials: opts.peerCredentials,
  });
  cleanups.push(async () => {
    await server.close(0);
    rmSync(dir, { recursive: true, force: true });
  });
  return { socket, dir, server, metrics };
}

function grpcJs(socket: string): GrpcJsClient {
  const client = new GrpcJsClient(socket);
  cleanups.push(() => client.close());
  return client;
}

async function metricLines(metrics: Metrics, name: string): Promise<string[]> {
  return (await metrics.registry.metrics()).split("\n").filter((line) => line.startsWith(name));
}

/** A client that hangs up with an HTTP/2 RST_STREAM(CANCEL) once `started` resolves. */
function hangUpAfter(socket: string, method: string, request: Uint8Array, started: Promise<unknown>, kind: "unary" | "stream"): Promise<void> {
  const client = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure());
  cleanups.push(() => client.close());
  const identity = (b: Buffer) => b;
  const path = `/${ComputeDriver.typeName}/${method}`;
  return new Promise((resolve) => {
    const call =
      kind === "unary"
        ? client.makeUnaryRequest(path, () => Buffer.from(request), identity, Buffer.alloc(0), () => resolve())
        : client.makeServerStreamRequest(path, () => Buffer.from(request), identity, Buffer.alloc(0));
    if (kind === "stream") {
      call.on("error", () => resolve());
      call.on("data", () => undefined);
    }
    void started.then(() => call.cancel());
  });
}

/** One gRPC call written by hand over node:http2, so the test picks every header, `:authority` too. */
async function rawCall(socket: string, headers: http2.OutgoingHttpHeaders, body: Uint8Array): Promise<{ grpcStatus: string | undefined }> {
  const session = http2.connect("http://localhost", { createConnection: () => connect(socket) });
  cleanups.push(() => void session.destroy());
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, 5);
  const stream = session.request({ ":method": "POST", "content-type": "application/grpc", te: "trailers", ...headers });
  let grpcStatus: string | undefined;
  stream.on("response", (h) => (grpcStatus ??= h["grpc-status"] as string | undefined));
  stream.on("trailers", (t) => (grpcStatus = t["grpc-status"] as string | undefined));
  stream.on("data", () => undefined);
  stream.end(frame);
  await new Promise((resolve) => stream.once("close", resolve));
  return { grpcStatus };
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe("gRPC server", () => {
  test("a call whose :authority is the socket path, percent-encoded (grpcio 1.85 on unix:), is served", async () => {
    const { socket } = await serve(capabilities);
    const path = `/${ComputeDriver.typeName}/GetCapabilities`;
    const call = await rawCall(socket, { ":path": path, ":authority": "tmp%2Fd%2Fdriver.sock" }, new Uint8Array());
    expect(call.grpcStatus).toBe("0");
    // The process is alive and serves the next caller as before.
    const next = await grpcJs(socket).unary("GetCapabilities", create(GetCapabilitiesRequestSchema));
    expect(next.code).toBe("OK");
  });

  test("a request that throws before its handler ends its own stream INTERNAL, logged once with its method, and the server serves on", async () => {
    const dir = mkdtempSync(join(tmpdir(), "osdrv-boundary-"));
    const socket = join(dir, "s.sock");
    let calls = 0;
    const server = http2.createServer(
      requestBoundary((_req, res) => {
        if (++calls === 1) throw new TypeError("Invalid URL: Bearer secret-token");
        res.writeHead(200, { "content-type": "application/grpc", "grpc-status": "0" });
        res.end();
      }),
    );
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    cleanups.push(() => {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const logs = captureLogs();
    const path = `/${ComputeDriver.typeName}/ListSandboxes`;
    expect((await rawCall(socket, { ":path": path }, new Uint8Array())).grpcStatus).toBe("13");
    expect((await rawCall(socket, { ":path": path }, new Uint8Array())).grpcStatus).toBe("0");
    const warnings = logs().filter((entry) => entry.type === "warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.args[1]).toMatchObject({ method: "ListSandboxes", error: "TypeError" });
    expect(JSON.stringify(warnings[0]!.args)).not.toContain("secret-token");
  });

  test("a request over --max-request-bytes is refused with RESOURCE_EXHAUSTED before it reaches the driver", async () => {
    let calls = 0;
    const { socket } = await serve({ ...capabilities, validateSandboxCreate: () => (calls++, {}) }, { maxRequestBytes: 4 * 1024 * 1024 });
    const client = grpcJs(socket);
    const huge = create(ValidateSandboxCreateRequestSchema, {
      sandbox: { id: "big", name: "big", spec: { environment: { PAYLOAD: "x".repeat(20 * 1024 * 1024) } } },
    });
    const refused = await client.unary("ValidateSandboxCreate", huge);
    expect(refused.code).toBe("RESOURCE_EXHAUSTED");
    expect(calls).toBe(0);

    // The cap is per message: a request just under it goes through, on the same connection.
    const small = create(ValidateSandboxCreateRequestSchema, {
      sandbox: { id: "ok", name: "ok", spec: { environment: { PAYLOAD: "x".repeat(3 * 1024 * 1024) } } },
    });
    expect((await client.unary("ValidateSandboxCreate", small)).code).toBe("OK");
    expect(calls).toBe(1);
  });

  test("the Connect client sees the same refusal for an oversized request", async () => {
    const { socket } = await serve({ validateSandboxCreate: () => ({}) }, { maxRequestBytes: 64 * 1024 });
    const err = await connectClient(socket)
      .validateSandboxCreate({ sandbox: { id: "big", spec: { environment: { PAYLOAD: "x".repeat(1024 * 1024) } } } })
      .then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(err?.code).toBe(Code.ResourceExhausted);
  });

  test("a peer whose credentials cannot be read is refused, and the refusal is logged", async () => {
    let calls = 0;
    const logged = captureLogs();
    const { socket } = await serve(
      { getCapabilities: () => (calls++, { driverName: "scripted" }) },
      { peerCredentials: { read: () => { throw new PeerCredentialsError("injected failure"); } } },
    );
    const result = await grpcJs(socket).unary("GetCapabilities", create(GetCapabilitiesRequestSchema));
    expect(result.code).toBe("UNAVAILABLE");
    expect(calls).toBe(0);
    expect(logged().some((e) => e.args[0] === "refused a connection whose peer credentials cannot be read")).toBe(true);
  });

  test("a peer running as another user is refused; one running as this user is served", async () => {
    const ownUid = process.geteuid!();
    const stranger = await serve(capabilities, { peerCredentials: { read: () => ownUid + 1 } });
    expect((await grpcJs(stranger.socket).unary("GetCapabilities", create(GetCapabilitiesRequestSchema))).code).toBe("UNAVAILABLE");
    const same = await serve(capabilities, { peerCredentials: { read: () => ownUid } });
    expect((await grpcJs(same.socket).unary("GetCapabilities", create(GetCapabilitiesRequestSchema))).code).toBe("OK");
  });

  test("where the platform cannot tell who connects, the server says so once at start", async () => {
    const logged = captureLogs();
    await serve(capabilities, { peerCredentials: { unavailable: "no SO_PEERCRED here" } });
    const warnings = logged().filter((e) => String(e.args[0]).includes("cannot check who connects"));
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings[0]!.args)).toContain("no SO_PEERCRED here");
  });

  test("a client hanging up mid-call counts as Canceled, not Internal, whatever the handler then throws", async () => {
    const unaryStarted = deferred();
    const streamStarted = deferred();
    const { socket, metrics } = await serve({
      async getSandbox(_req, ctx) {
        unaryStarted.resolve();
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
        // What a Kubernetes call cut short by the signal typically surfaces as.
        throw new ConnectError("socket closed", Code.Internal);
      },
      async *watchSandboxes(_req, ctx) {
        yield { payload: { case: undefined } } as unknown as WatchSandboxesEvent;
        streamStarted.resolve();
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
        throw new ConnectError("socket closed", Code.Internal);
      },
    });
    await hangUpAfter(socket, "GetSandbox", new Uint8Array(), unaryStarted.promise, "unary");
    await hangUpAfter(socket, "WatchSandboxes", new Uint8Array(), streamStarted.promise, "stream");
    const counted = await eventually("both calls to be counted", async () => {
      const lines = await metricLines(metrics, "openshell_driver_rpc_requests_total{");
      return lines.length === 2 ? lines : undefined;
    });
    expect(counted.sort()).toEqual([
      'openshell_driver_rpc_requests_total{method="GetSandbox",code="Canceled"} 1',
      'openshell_driver_rpc_requests_total{method="WatchSandboxes",code="Canceled"} 1',
    ]);
    expect(await metricLines(metrics, "openshell_driver_watch_streams ")).toEqual(["openshell_driver_watch_streams 0"]);
  });

  test("watch streams are timed in their own histogram, apart from unary latencies", async () => {
    const { socket, metrics } = await serve({
      ...capabilities,
      async *watchSandboxes() {
        yield { payload: { case: undefined } } as unknown as WatchSandboxesEvent;
      },
    });
    const client = connectClient(socket);
    await client.getCapabilities({});
    for await (const _ of client.watchSandboxes({})) void _;
    expect(await metricLines(metrics, "openshell_driver_watch_stream_duration_seconds_count")).toEqual([
      'openshell_driver_watch_stream_duration_seconds_count{code="OK"} 1',
    ]);
    expect(await metricLines(metrics, "openshell_driver_rpc_duration_seconds_count")).toEqual([
      'openshell_driver_rpc_duration_seconds_count{method="GetCapabilities"} 1',
    ]);
  });

  test("shutdown refuses new calls first, then ends open watch streams with UNAVAILABLE", async () => {
    const streamOpen = deferred();
    const streamReleased = deferred();
    const { socket, dir, server } = await serve({
      ...capabilities,
      async *watchSandboxes(_req, ctx) {
        try {
          yield { payload: { case: undefined } } as unknown as WatchSandboxesEvent;
          streamOpen.resolve();
          await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
        } finally {
          streamReleased.resolve();
        }
      },
    });
    const client = connectClient(socket);
    const received: string[] = [];
    const watch = (async () => {
      for await (const _ of client.watchSandboxes({})) received.push("event");
    })().then(
      () => "ended cleanly",
      (e: unknown) => ConnectError.from(e),
    );
    await streamOpen.promise;
    const idle = http2.connect("http://localhost", { createConnection: () => connect(socket) });
    cleanups.push(() => void idle.destroy());
    await new Promise((resolve) => idle.once("remoteSettings", resolve));
    const goaway = new Promise((resolve) => idle.once("goaway", resolve));

    server.stopAccepting();
    // No new connection: the socket file is gone and nothing listens.
    expect(existsSync(socket)).toBe(false);
    const late = await grpcJs(socket).unary("GetCapabilities", create(GetCapabilitiesRequestSchema));
    expect(late.code).toBe("UNAVAILABLE");
    // Open connections are told with GOAWAY to start no new calls.
    await goaway;
    // The watch is still open: only endStreams ends it.
    const pending = await Promise.race([watch, Bun.sleep(0).then(() => "still open")]);
    expect(pending).toBe("still open");

    server.endStreams();
    const ended = await watch;
    expect(ended).toBeInstanceOf(ConnectError);
    expect((ended as ConnectError).code).toBe(Code.Unavailable);
    expect((ended as ConnectError).rawMessage).toContain("shutting down");
    expect(received).toEqual(["event"]);
    await streamReleased.promise;
    await server.close(1000);
    expect(readdirSync(dir)).toEqual([]);
  });
});

function captureLogs(): () => LogObject[] {
  const entries: LogObject[] = [];
  const previous = [...consola.options.reporters];
  consola.setReporters([{ log: (entry) => void entries.push(entry) }]);
  cleanups.push(() => {
    consola.setReporters(previous);
  });
  return () => entries;
}
