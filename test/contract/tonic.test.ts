// Contract tier, strict-peer edition: the compiled driver on a real Unix socket, driven by a tonic
// client (Rust, hyper h2) that connects exactly like the OpenShell gateway. hyper's h2 rejects
// framing and trailer mistakes that grpc-js, grpcio and Connect tolerate.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import {
  ComputeDriver,
  GetCapabilitiesResponseSchema,
  ListSandboxesResponseSchema,
  WatchSandboxesEventSchema,
} from "../../src/gen/compute_driver_pb";
import { connectClient } from "../support/clients";
import { driverKubeconfig, eventually, kubectl } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { sandboxRequest, uniqueName } from "../support/requests";
import { buildTonicProbe, tonicCall } from "../support/tonic";
import { EXPECTED_CODE, requestFor } from "../support/rpc-expectations";

const GATEWAY_ID = `tonic-${Date.now().toString(36)}`;

let driver: DriverProcess;


beforeAll(async () => {
  buildTonicProbe();
  driver = await startDriver({ kubeconfig: driverKubeconfig(), gatewayId: GATEWAY_ID });
  // One sandbox up front, so a new watch stream always has state to send first.
  const seed = uniqueName("seed");
  const client = connectClient(driver.socket);
  await client.createSandbox({ sandbox: sandboxRequest(seed) });
  await eventually("the seed sandbox in the cache", () => client.getSandbox({ sandboxId: seed.id }).then(() => true));
}, 300_000);

afterAll(async () => {
  kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", "openshell-system", "-l", `openshell.ai/gateway-id=${GATEWAY_ID}`, "--wait=false"], {
    allowFailure: true,
  });
  await driver?.stop();
});

describe("the driver as a tonic client (the gateway's stack) sees it over a Unix socket", () => {
  test("all 12 RPCs answer the tonic client with their expected status; none is UNIMPLEMENTED", async () => {
    expect(ComputeDriver.methods).toHaveLength(12);
    for (const method of ComputeDriver.methods) {
      const result =
        method.methodKind === "server_streaming"
          ? await tonicCall(driver.socket, method.name, requestFor(method.name), { limit: 1 })
          : await tonicCall(driver.socket, method.name, requestFor(method.name));
      expect({ method: method.name, code: result.code, error: result.error }).toEqual({
        method: method.name,
        code: EXPECTED_CODE[method.name]!,
        error: expect.any(String),
      });
      if (result.code === "OK") expect({ method: method.name, replies: result.responses.length }).toEqual({
        method: method.name,
        replies: method.methodKind === "server_streaming" ? 2 : 1,
      });
    }
  });

  test("GetCapabilities decodes from the tonic client's bytes and names the driver", async () => {
    const result = await tonicCall(driver.socket, "GetCapabilities", requestFor("GetCapabilities"));
    expect(result).toMatchObject({ code: "OK", error: "" });
    expect(fromBinary(GetCapabilitiesResponseSchema, result.responses[0]!).driverName).toBe("openshell-driver-k8s");
  });

  test("a NOT_FOUND status reaches tonic with its message in the trailers", async () => {
    for (const method of ["GetSandbox", "StopSandbox"]) {
      const result = await tonicCall(driver.socket, method, requestFor(method));
      expect({ method, code: result.code }).toEqual({ method, code: "NOT_FOUND" });
      expect(result.details).toContain("no-such-sandbox");
      expect(result.responses).toHaveLength(0);
    }
  });

  test("a ListSandboxes reply larger than 64 KiB arrives intact over tonic", async () => {
    const client = connectClient(driver.socket);
    // Its own per run: another file or an earlier run may still be deleting same-named sandboxes.
    const workspace = `large-list-workspace-${Date.now().toString(36).slice(-5)}`;
    const ids: string[] = [];
    // Grow the list in batches until the reply, as the driver encodes it, is past 64 KiB (one
    // HTTP/2 default window, and far past the 16 KiB default frame size).
    let bytes = 0;
    while (bytes <= 64 * 1024) {
      if (ids.length >= 1000) throw new Error(`1000 sandboxes still list as only ${bytes} bytes`);
      await Promise.all(
        Array.from({ length: 25 }, () => {
          const { id } = uniqueName("big");
          ids.push(id);
          return client.createSandbox({ sandbox: sandboxRequest({ id, name: `list-item-${ids.length}-padding-to-widen`, workspace }) });
        }),
      );
      const listed = await eventually("all sandboxes in the cache", async () => {
        const reply = await client.listSandboxes({});
        return ids.every((id) => reply.sandboxes.some((s) => s.id === id)) ? reply : undefined;
      });
      bytes = toBinary(ListSandboxesResponseSchema, listed).byteLength;
    }

    const result = await tonicCall(driver.socket, "ListSandboxes", {} as MessageShape<DescMessage>);
    expect({ code: result.code, error: result.error }).toEqual({ code: "OK", error: "" });
    expect(result.responses[0]!.byteLength).toBeGreaterThan(64 * 1024);
    const viaTonic = fromBinary(ListSandboxesResponseSchema, result.responses[0]!);
    const tonicIds = new Set(viaTonic.sandboxes.map((s) => s.id));
    expect(ids.filter((id) => !tonicIds.has(id))).toEqual([]);
  }, 180_000);

  test("a watch stream read by tonic and then cancelled leaves the same channel answering GetCapabilities", async () => {
    const result = await tonicCall(driver.socket, "WatchSandboxes", {} as MessageShape<DescMessage>, { limit: 1 });
    expect({ code: result.code, error: result.error }).toEqual({ code: "OK", error: "" });
    expect(result.responses).toHaveLength(2);
    // The first message of a new stream is state that already exists (at least the seed sandbox).
    expect(fromBinary(WatchSandboxesEventSchema, result.responses[0]!).payload.case).toBe("sandbox");
    // ...and after the cancel, a unary call on the same HTTP/2 connection was answered.
    expect(fromBinary(GetCapabilitiesResponseSchema, result.responses[1]!).driverName).toBe("openshell-driver-k8s");
  });
});
