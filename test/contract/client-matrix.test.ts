// Contract tier, client matrix: the compiled driver on a real Unix socket, walked through all 12
// RPCs and a watch by every gRPC client in test/support/client-matrix.ts, each with its default
// channel options for a `unix:` target. A client's defaults are what a new user gets: grpcio 1.84
// and 1.85 send the socket path, percent-encoded, as :authority, and one such ListSandboxes once
// ended the driver process (issue 14).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create, fromBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type ServerHttp2Stream } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ComputeDriver,
  DeleteSandboxResponseSchema,
  GetCapabilitiesResponseSchema,
  GetSandboxResponseSchema,
  ListSandboxesResponseSchema,
  WatchSandboxesEventSchema,
} from "../../src/gen/compute_driver_pb";
import { connectClient } from "../support/clients";
import {
  GRPCIO_NEWEST,
  GRPCIO_OLDEST_SUPPORTED,
  grpcioClient,
  prepareClientMatrix,
  type MatrixClient,
  type MatrixEntry,
  type MatrixResult,
  type StreamRead,
} from "../support/client-matrix";
import { driverKubeconfig, eventually, kubectl } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { sandboxRequest, uniqueName } from "../support/requests";

const GATEWAY_ID = `clients-${Date.now().toString(36)}`;
const WORKSPACE = "client-matrix";

let driver: DriverProcess;
let matrix: MatrixEntry[];
/** Each client's walk, started together: most of a walk is waiting for the cluster (a Stop waits for the pod to go). */
const walks = new Map<string, Promise<{ called: string[] } | { error: unknown }>>();

function request(method: string, init: Record<string, unknown> = {}): MessageShape<DescMessage> {
  const m = ComputeDriver.methods.find((x) => x.name === method)!;
  return create(m.input, init as Record<string, never>) as MessageShape<DescMessage>;
}

function expectDriverAlive(): void {
  expect({ driverExitCode: driver.proc.exitCode, signal: driver.proc.signalCode }).toEqual({ driverExitCode: null, signal: null });
}

/**
 * One sandbox's life through `client`: every RPC of the service once, each answering OK, and a
 * watch read until it shows the sandbox. Returns the methods called, in order.
 */
async function lifecycleWalk(entry: MatrixEntry, client: MatrixClient): Promise<string[]> {
  const called: string[] = [];
  const ok = async (method: string, init?: Record<string, unknown>, stream?: StreamRead): Promise<MatrixResult> => {
    const result = await client.call(method, request(method, init), stream);
    called.push(method);
    expect({ method, code: result.code, details: result.details }).toEqual({ method, code: "OK", details: "" });
    if (entry.reportsVersion) expect({ method, version: result.version }).toEqual({ method, version: entry.version });
    return result;
  };
  const { id, name } = uniqueName(entry.key);
  const sandbox = sandboxRequest({ id, name, workspace: WORKSPACE });

  const caps = await ok("GetCapabilities");
  expect(fromBinary(GetCapabilitiesResponseSchema, caps.responses[0]!).driverName).toBe("openshell-driver-k8s");
  await ok("GetGatewayListenerRequirements");
  await ok("EnsureWorkspace", { workspace: WORKSPACE });
  await ok("ValidateSandboxCreate", { sandbox });
  await ok("CreateSandbox", { sandbox });
  // The driver answers reads from its watch cache, which sees the new Sandbox a moment later.
  const got = await eventually(`${entry.key}: GetSandbox finds ${id}`, async () => {
    const result = await client.call("GetSandbox", request("GetSandbox", { sandboxId: id }));
    return result.code === "OK" ? result : undefined;
  });
  called.push("GetSandbox");
  expect(fromBinary(GetSandboxResponseSchema, got.responses[0]!).sandbox?.id).toBe(id);

  const listed = fromBinary(ListSandboxesResponseSchema, (await ok("ListSandboxes")).responses[0]!);
  expect(listed.sandboxes.map((s) => s.id)).toContain(id);

  const watch = await ok("WatchSandboxes", {}, { limit: 10_000, until: new TextEncoder().encode(id) });
  const events = watch.responses.slice(0, -1).map((bytes) => fromBinary(WatchSandboxesEventSchema, bytes));
  expect(events.some((e) => e.payload.case === "sandbox" && e.payload.value.sandbox?.id === id)).toBe(true);
  // After the client cancelled the watch, the same channel answered a unary call.
  expect(fromBinary(GetCapabilitiesResponseSchema, watch.responses.at(-1)!).driverName).toBe("openshell-driver-k8s");

  await ok("StopSandbox", { sandboxId: id });
  await ok("StartSandbox", { sandboxId: id });
  const deleted = await ok("DeleteSandbox", { sandboxId: id });
  expect(fromBinary(DeleteSandboxResponseSchema, deleted.responses[0]!).deleted).toBe(true);
  await ok("DeleteWorkspace", { workspace: WORKSPACE });
  return called;
}

async function walkWith(entry: MatrixEntry): Promise<string[]> {
  const client = entry.open(driver.socket);
  try {
    return await lifecycleWalk(entry, client);
  } finally {
    client.close();
  }
}

beforeAll(async () => {
  matrix = prepareClientMatrix();
  driver = await startDriver({ kubeconfig: driverKubeconfig(), gatewayId: GATEWAY_ID });
  for (const entry of matrix) {
    walks.set(entry.key, walkWith(entry).then((called) => ({ called }), (error: unknown) => ({ error })));
  }
}, 300_000);

afterAll(async () => {
  kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", "openshell-system", "-l", `openshell.ai/gateway-id=${GATEWAY_ID}`, "--wait=false"], {
    allowFailure: true,
  });
  await driver?.stop();
});

describe("every client of the matrix, with its default channel options for a unix: target", () => {
  test("the matrix holds the newest grpcio on PyPI, the oldest gRPC still supports, grpc-js, Connect, tonic and grpc-go", () => {
    expect(matrix.map((e) => e.key)).toEqual(["py-newest", "py-oldest", "py-debian", "grpc-js", "connect", "tonic", "grpc-go"]);
    expect(matrix.slice(0, 2).map((e) => e.version)).toEqual([GRPCIO_NEWEST, GRPCIO_OLDEST_SUPPORTED]);
  });

  // One test per client, so a report names the client that failed.
  for (const key of ["py-newest", "py-oldest", "py-debian", "grpc-js", "connect", "tonic", "grpc-go"]) {
    test(`${key} walks a sandbox through all 12 RPCs and a watch, and the driver keeps serving`, async () => {
      const walk = await walks.get(key)!;
      if ("error" in walk) throw walk.error;
      expect(walk.called.toSorted()).toEqual(ComputeDriver.methods.map((m) => m.name).toSorted());
      expectDriverAlive();
    }, 180_000);
  }
});

describe(`python grpcio ${GRPCIO_NEWEST}, the client of issue 14`, () => {
  test(`grpcio ${GRPCIO_NEWEST} sends a unix: socket's path, percent-encoded, as :authority`, async () => {
    // A bare HTTP/2 server on a socket path with slashes, as the driver's: it records what arrives.
    const dir = mkdtempSync(join(tmpdir(), "clients-authority-"));
    const socket = join(dir, "driver.sock");
    const authorities: string[] = [];
    const server = createServer();
    server.on("stream", (stream: ServerHttp2Stream, headers) => {
      authorities.push(String(headers[":authority"]));
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "12", "grpc-message": "recorded" }));
      stream.end();
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    try {
      const result = await grpcioClient(GRPCIO_NEWEST, socket).call("ListSandboxes", request("ListSandboxes"));
      expect(result.code).toBe("UNIMPLEMENTED");
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
    expect(authorities).toEqual([socket.slice(1).replaceAll("/", "%2F")]);
  });

  test(`ListSandboxes from grpcio ${GRPCIO_NEWEST} over unix: lists the sandboxes, and the driver keeps serving`, async () => {
    const connect = connectClient(driver.socket);
    const ids = [uniqueName("list-a"), uniqueName("list-b")].map(({ id, name }) => ({ id, name }));
    for (const { id, name } of ids) await connect.createSandbox({ sandbox: sandboxRequest({ id, name, workspace: WORKSPACE }) });
    await eventually("both sandboxes in the driver's cache", async () => {
      const listed = await connect.listSandboxes({});
      return ids.every(({ id }) => listed.sandboxes.some((s) => s.id === id)) ? true : undefined;
    });

    const result = await grpcioClient(GRPCIO_NEWEST, driver.socket).call("ListSandboxes", request("ListSandboxes"));
    expect({ code: result.code, details: result.details, version: result.version }).toEqual({ code: "OK", details: "", version: GRPCIO_NEWEST });
    const listed = fromBinary(ListSandboxesResponseSchema, result.responses[0]!).sandboxes.map((s) => s.id);
    expect(listed).toEqual(expect.arrayContaining(ids.map(({ id }) => id)));

    expectDriverAlive();
    expect((await connect.getCapabilities({})).driverName).toBe("openshell-driver-k8s");
  });
});
