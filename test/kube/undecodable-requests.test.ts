// What a client sending bytes that are not a valid request message gets back, on the wire.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { computeDriverService } from "../../src/contract/compute-driver-service";
import { undecodableRequestsAsInvalidArgument } from "../../src/contract/undecodable-requests";
import { ComputeDriver } from "../../src/gen/compute_driver_pb";

let server: http2.Http2Server;
let url: string;

beforeAll(async () => {
  const identity = { name: "openshell-driver-k8s", version: "test", defaultImage: "busybox" };
  const handler = connectNodeAdapter({
    routes: (router) =>
      router.service(
        ComputeDriver,
        computeDriverService(identity, () => {
          throw new Error("no cluster in this test");
        }),
      ),
  });
  server = http2.createServer(undecodableRequestsAsInvalidArgument(handler));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => server.close());

/** One gRPC call with `payload` as the raw message bytes; the status and message from its trailers. */
async function rawCall(method: string, payload: Uint8Array, compressedFlag = false, headers: http2.OutgoingHttpHeaders = {}): Promise<{ status: string; message: string }> {
  const session = http2.connect(url);
  try {
    const frame = Buffer.alloc(5 + payload.length);
    frame.writeUInt8(compressedFlag ? 1 : 0, 0);
    frame.writeUInt32BE(payload.length, 1);
    frame.set(payload, 5);
    const req = session.request({
      ":method": "POST",
      ":path": `/openshell.compute.v1.ComputeDriver/${method}`,
      "content-type": "application/grpc",
      te: "trailers",
      ...headers,
    });
    let trailers: http2.IncomingHttpHeaders = {};
    req.on("trailers", (t) => (trailers = t));
    req.on("data", () => {});
    await new Promise<void>((resolve, reject) => {
      req.on("close", resolve);
      req.on("error", reject);
      req.end(frame);
    });
    return { status: String(trailers["grpc-status"]), message: decodeURIComponent(String(trailers["grpc-message"] ?? "")) };
  } finally {
    session.close();
  }
}

describe("requests that do not decode", () => {
  test.each([
    ["GetSandbox", "an illegal field tag", [0xff, 0xff, 0xff, 0xff, 0x0f]],
    ["GetSandbox", "a string field that is not UTF-8", [0x0a, 0x02, 0xc3, 0x28]],
    ["CreateSandbox", "a message cut short", [0x0a, 0x40, 0x0a]],
    ["WatchSandboxes", "a message cut short (server streaming)", [0x0a, 0x05, 0x01]],
  ])("%s with %s is INVALID_ARGUMENT naming the method, not INTERNAL", async (method, _what, bytes) => {
    const { status, message } = await rawCall(method, new Uint8Array(bytes));
    expect(status).toBe("3");
    expect(message).toStartWith(`the ${method} request is not a valid protobuf message: `);
  });

  test("a frame flagged compressed on a call that names no grpc-encoding is INVALID_ARGUMENT, not INTERNAL", async () => {
    const { status, message } = await rawCall("GetSandbox", new Uint8Array([0x0a, 0x01, 0x61]), true);
    expect(status).toBe("3");
    expect(message).toBe("the GetSandbox request is flagged compressed but the call names no grpc-encoding");
  });

  test.each(["br", "gzip"])("a frame that does not decompress with grpc-encoding %s is INVALID_ARGUMENT, not INTERNAL", async (encoding) => {
    const { status, message } = await rawCall("GetSandbox", new Uint8Array([0xac, 0x7b, 0xe6, 0x7e, 0xe8, 0x4c, 0xdd, 0x00]), true, { "grpc-encoding": encoding });
    expect(status).toBe("3");
    if (encoding === "br") expect(message).toBe("the GetSandbox request does not decompress with the call's grpc-encoding");
  });

  test("a request that decodes is answered by the service as before", async () => {
    expect(await rawCall("GetCapabilities", new Uint8Array())).toEqual({ status: "0", message: "" });
  });

  test("an INTERNAL from the service itself is left alone", async () => {
    // sandbox_id "a": decodes, then the driver provider throws a plain Error.
    expect(await rawCall("GetSandbox", new Uint8Array([0x0a, 0x01, 0x61]))).toEqual({ status: "13", message: "no cluster in this test" });
  });
});
