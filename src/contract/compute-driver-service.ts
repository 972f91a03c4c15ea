// The gRPC face of the driver: request checks, delegation, and error → status mapping.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { ComputeDriver, DeleteSandboxResponseSchema, GetCapabilitiesResponseSchema, type DriverSandbox } from "../gen/compute_driver_pb";
import type { SandboxDriver } from "../driver/driver";
import type { ReplyCodec } from "../driver/encoded-sandboxes";
import { checkDns1123Label } from "../sandbox/dns";
import { toConnectError } from "./errors";

export interface DriverIdentity {
  name: string;
  version: string;
  defaultImage: string;
}

/** Resolves the connected driver, or throws Unavailable while the cluster is not reachable yet. */
export type DriverProvider = (signal: AbortSignal) => Promise<SandboxDriver>;

function requireId(sandboxId: string): string {
  if (sandboxId === "") throw new ConnectError("sandbox_id: required", Code.InvalidArgument);
  return sandboxId;
}

function requireSandbox(sandbox: DriverSandbox | undefined): DriverSandbox {
  if (!sandbox) throw new ConnectError("sandbox: required", Code.InvalidArgument);
  return sandbox;
}

function requireWorkspace(workspace: string): void {
  if (workspace === "") throw new ConnectError("workspace: required", Code.InvalidArgument);
  const problem = checkDns1123Label(workspace);
  if (problem) throw new ConnectError(`workspace: ${problem}`, Code.InvalidArgument);
}

/**
 * Binary codecs write the driver's pre-encoded sandboxes as they are; JSON codecs (Connect JSON,
 * gRPC(-web)+json) drop unknown fields, so they get the messages built the normal way.
 */
function replyCodec(ctx: HandlerContext): ReplyCodec {
  return ctx.requestHeader.get("content-type")?.includes("json") ? "json" : "binary";
}

/** Wraps a handler so anything it throws reaches the client as a proper gRPC status. */
function mapped<A extends unknown[], R>(fn: (...args: A) => Promise<R> | R): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await fn(...args);
    } catch (err) {
      throw toConnectError(err);
    }
  };
}

export function computeDriverService(identity: DriverIdentity, driver: DriverProvider): ServiceImpl<typeof ComputeDriver> {
  return {
    getCapabilities: () =>
      create(GetCapabilitiesResponseSchema, {
        driverName: identity.name,
        driverVersion: identity.version,
        defaultImage: identity.defaultImage,
        // Pods keep running across gateway restarts; the gateway must not stop them on shutdown.
        gatewayManagesLifecycle: false,
      }),
    getGatewayListenerRequirements: () => ({}),
    validateSandboxCreate: mapped(async (req, ctx) => {
      await (await driver(ctx.signal)).validate(requireSandbox(req.sandbox));
      return {};
    }),
    createSandbox: mapped(async (req, ctx) => {
      await (await driver(ctx.signal)).create(requireSandbox(req.sandbox));
      return {};
    }),
    getSandbox: mapped(async (req, ctx) => (await driver(ctx.signal)).getReply(requireId(req.sandboxId), replyCodec(ctx))),
    listSandboxes: mapped(async (_req, ctx) => (await driver(ctx.signal)).listReply(replyCodec(ctx))),
    stopSandbox: mapped(async (req, ctx) => {
      await (await driver(ctx.signal)).stopSandbox(requireId(req.sandboxId), ctx.signal);
      return {};
    }),
    startSandbox: mapped(async (req, ctx) => {
      await (await driver(ctx.signal)).startSandbox(requireId(req.sandboxId));
      return {};
    }),
    deleteSandbox: mapped(async (req, ctx) =>
      create(DeleteSandboxResponseSchema, { deleted: await (await driver(ctx.signal)).deleteSandbox(requireId(req.sandboxId)) }),
    ),
    async *watchSandboxes(_req, ctx) {
      try {
        yield* (await driver(ctx.signal)).watch(ctx.signal, replyCodec(ctx));
      } catch (err) {
        throw toConnectError(err);
      }
    },
    ensureWorkspace: mapped(async (req, ctx) => {
      requireWorkspace(req.workspace);
      await (await driver(ctx.signal)).ensureWorkspace(req.workspace);
      return {};
    }),
    deleteWorkspace: mapped(async (req, ctx) => {
      requireWorkspace(req.workspace);
      await (await driver(ctx.signal)).deleteWorkspace(req.workspace);
      return {};
    }),
  };
}
