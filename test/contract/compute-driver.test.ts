// Contract tier: the compiled binary on a real Unix socket, against the local control plane
// (real kube-apiserver + agent-sandbox controller), driven by three independent gRPC clients.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { statSync } from "node:fs";
import { dirname } from "node:path";
import {
  ComputeDriver,
  GetCapabilitiesResponseSchema,
  ListSandboxesResponseSchema,
  WatchSandboxesEventSchema,
  type WatchSandboxesEvent,
} from "../../src/gen/compute_driver_pb";
import { GrpcJsClient, connectClient, pythonCall } from "../support/clients";
import { driverKubeconfig, eventually, kubectl, kubectlJson } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { sandboxRequest, uniqueName } from "../support/requests";
import { EXPECTED_CODE, requestFor } from "../support/rpc-expectations";

const GATEWAY_ID = `contract-${Date.now().toString(36)}`;
const SECRET_TOKEN = "sandbox-token-MUST-NOT-LEAK-7f3a";
const SECRET_ENV_VALUE = "env-value-MUST-NOT-LEAK-91c2";

let driver: DriverProcess;
let kubeconfig: string;

function sandboxesOfThisGateway(): string[] {
  return kubectl(["get", "sandboxes.agents.x-k8s.io", "-n", "openshell-system", "-l", `openshell.ai/gateway-id=${GATEWAY_ID}`, "-o", "name"])
    .split("\n")
    .filter(Boolean);
}


beforeAll(async () => {
  kubeconfig = driverKubeconfig();
  driver = await startDriver({ kubeconfig, gatewayId: GATEWAY_ID });
  // One sandbox up front, so a new watch stream always has state to send first.
  const seed = uniqueName("seed");
  const client = connectClient(driver.socket);
  await client.createSandbox({ sandbox: sandboxRequest(seed) });
  await eventually("the seed sandbox in the cache", () => client.getSandbox({ sandboxId: seed.id }).then(() => true));
});

afterAll(async () => {
  kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", "openshell-system", "-l", `openshell.ai/gateway-id=${GATEWAY_ID}`, "--wait=false"], {
    allowFailure: true,
  });
  await driver?.stop();
});

describe("compiled driver on a Unix socket, against the local control plane", () => {
  test("the socket is private to the driver's user: mode 0600 inside a 0700 directory", () => {
    expect(statSync(driver.socket).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(driver.socket)).mode & 0o777).toBe(0o700);
  });

  test("all 12 RPCs answer the python grpcio client with their expected status; none is UNIMPLEMENTED", async () => {
    expect(ComputeDriver.methods).toHaveLength(12);
    for (const method of ComputeDriver.methods) {
      if (method.methodKind === "server_streaming") {
        const result = await pythonCall(driver.socket, method.name, requestFor(method.name), { limit: 1 });
        expect(result.code).toBe("OK");
        continue;
      }
      const result = await pythonCall(driver.socket, method.name, requestFor(method.name));
      expect({ method: method.name, code: result.code }).toEqual({ method: method.name, code: EXPECTED_CODE[method.name]! });
    }
  });

  test("all 12 RPCs answer the @grpc/grpc-js client with their expected status; none is UNIMPLEMENTED", async () => {
    const client = new GrpcJsClient(driver.socket);
    try {
      for (const method of ComputeDriver.methods) {
        const result =
          method.methodKind === "server_streaming"
            ? await client.stream(method.name, requestFor(method.name), 1)
            : await client.unary(method.name, requestFor(method.name));
        expect({ method: method.name, code: result.code }).toEqual({ method: method.name, code: EXPECTED_CODE[method.name] ?? "OK" });
      }
    } finally {
      client.close();
    }
  });

  test("GetCapabilities names the driver, its version and default image, and leaves lifecycle to the driver", async () => {
    const result = await pythonCall(driver.socket, "GetCapabilities", requestFor("GetCapabilities"));
    const caps = fromBinary(GetCapabilitiesResponseSchema, result.responses[0]!);
    expect(caps.driverName).toBe("openshell-driver-k8s");
    expect(caps.driverVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(caps.defaultImage).not.toBe("");
    expect(caps.gatewayManagesLifecycle).toBe(false);
  });

  test("a non-OK status reaches every client with its code and message in the trailers", async () => {
    const py = await pythonCall(driver.socket, "GetSandbox", requestFor("GetSandbox"));
    expect(py).toMatchObject({ code: "NOT_FOUND" });
    expect(py.details).toContain("no-such-sandbox");

    const js = new GrpcJsClient(driver.socket);
    const viaJs = await js.unary("StopSandbox", requestFor("StopSandbox"));
    js.close();
    expect(viaJs.code).toBe("NOT_FOUND");
    expect(viaJs.details).toContain("no-such-sandbox");

    const err = await connectClient(driver.socket)
      .getSandbox({ sandboxId: "" })
      .catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).rawMessage).toStartWith("sandbox_id");
  });

  test("invalid input gets INVALID_ARGUMENT naming the field, and nothing is created in the cluster", async () => {
    const client = connectClient(driver.socket);
    const before = sandboxesOfThisGateway();
    const cases: [string, ReturnType<typeof sandboxRequest>][] = [
      ["sandbox.name", sandboxRequest({ ...uniqueName("x"), name: "UPPER" })],
      ["sandbox.spec.template.image", sandboxRequest({ ...uniqueName("x"), image: "not a valid image" })],
      ["sandbox.spec.environment", sandboxRequest({ ...uniqueName("x"), environment: { "1BAD": SECRET_ENV_VALUE } })],
      ["sandbox.workspace", sandboxRequest({ ...uniqueName("x"), workspace: "Bad_Workspace" })],
    ];
    for (const [field, sandbox] of cases) {
      for (const call of [() => client.validateSandboxCreate({ sandbox }), () => client.createSandbox({ sandbox })]) {
        const err = ConnectError.from(await call().then(() => new Error("accepted")).catch((e: unknown) => e));
        expect({ field, code: err.code }).toEqual({ field, code: Code.InvalidArgument });
        expect(err.rawMessage).toStartWith(field);
        expect(err.rawMessage).not.toContain(SECRET_ENV_VALUE);
      }
    }
    expect(sandboxesOfThisGateway()).toEqual(before);
  });

  test("a watch held open gets the current state first, then changes; cancelling it leaves the channel usable", async () => {
    const { id, name } = uniqueName("watch");
    const client = connectClient(driver.socket);
    const abort = new AbortController();
    const seen: WatchSandboxesEvent[] = [];
    const stream = (async () => {
      try {
        for await (const ev of client.watchSandboxes({}, { signal: abort.signal })) seen.push(ev);
      } catch (err) {
        if (!abort.signal.aborted) throw err;
      }
    })();
    await client.createSandbox({ sandbox: sandboxRequest({ id, name }) });
    await eventually("the new sandbox on the open stream", () =>
      seen.find((e) => e.payload.case === "sandbox" && e.payload.value.sandbox?.id === id) ? true : undefined,
    );
    abort.abort();
    await stream;
    const caps = await client.getCapabilities({});
    expect(caps.driverName).toBe("openshell-driver-k8s");

    // python grpcio: the first message of a new stream is the state that already exists.
    const py = await pythonCall(driver.socket, "WatchSandboxes", {} as MessageShape<DescMessage>, { limit: 1 });
    expect(py.code).toBe("OK");
    const first = fromBinary(WatchSandboxesEventSchema, py.responses[0]!);
    expect(first.payload.case).toBe("sandbox");
    // ...and the channel answered a unary call after the cancel.
    expect(fromBinary(GetCapabilitiesResponseSchema, py.responses[1]!).driverName).toBe("openshell-driver-k8s");
  });

  test("a ListSandboxes reply larger than 64 KiB arrives intact over all three clients", async () => {
    const client = connectClient(driver.socket);
    const count = 200;
    // Its own per run: another file or an earlier run may still be deleting same-named sandboxes.
    const workspace = `large-list-workspace-${Date.now().toString(36).slice(-5)}`;
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const { id } = uniqueName("big");
      ids.push(id);
      await client.createSandbox({ sandbox: sandboxRequest({ id, name: `list-item-${i}-padding-to-widen`, workspace }) });
    }
    const listed = await eventually("all sandboxes in the cache", async () => {
      const reply = await client.listSandboxes({});
      return ids.every((id) => reply.sandboxes.some((s) => s.id === id)) ? reply : undefined;
    });
    const bytes = toBinary(ListSandboxesResponseSchema, listed).byteLength;
    expect(bytes).toBeGreaterThan(64 * 1024);

    const py = await pythonCall(driver.socket, "ListSandboxes", {} as MessageShape<DescMessage>);
    expect(py.code).toBe("OK");
    expect(fromBinary(ListSandboxesResponseSchema, py.responses[0]!).sandboxes.length).toBeGreaterThanOrEqual(count);

    const js = new GrpcJsClient(driver.socket);
    const viaJs = await js.unary<typeof ListSandboxesResponseSchema>("ListSandboxes", {} as MessageShape<DescMessage>);
    js.close();
    expect(viaJs.code).toBe("OK");
    expect(viaJs.responses[0]!.sandboxes.length).toBeGreaterThanOrEqual(count);
  });

  test("the sandbox token, the API bearer token and env values never appear in the driver's logs", async () => {
    const { id, name } = uniqueName("secret");
    const client = connectClient(driver.socket);
    await client.createSandbox({
      sandbox: sandboxRequest({ id, name, sandboxToken: SECRET_TOKEN, environment: { API_KEY: SECRET_ENV_VALUE } }),
    });
    await eventually("the sandbox in the cache", () => client.getSandbox({ sandboxId: id }).then(() => true));
    const bearer = /token: (\S+)/.exec(await Bun.file(kubeconfig).text())?.[1];
    expect(bearer).toBeDefined();
    const logs = driver.logs();
    expect(logs).toContain(id); // the driver did log about this sandbox...
    expect(logs).not.toContain(SECRET_TOKEN); // ...but never its secrets
    expect(logs).not.toContain(SECRET_ENV_VALUE);
    expect(logs).not.toContain(bearer!);
  });

  test("the rendered Sandbox in the cluster carries the gateway's labels and no hostPath", () => {
    const items = kubectlJson<{ items: any[] }>(["get", "sandboxes.agents.x-k8s.io", "-n", "openshell-system", "-l", `openshell.ai/gateway-id=${GATEWAY_ID}`]).items;
    expect(items.length).toBeGreaterThan(0);
    for (const cr of items) {
      expect(cr.metadata.labels["openshell.ai/managed-by"]).toBe("openshell");
      expect(cr.metadata.labels["kagenti.io/type"]).toBe("agent");
      expect(JSON.stringify(cr.spec)).not.toContain("hostPath");
    }
  });
});
