// The size of every binary ListSandboxes reply, against the OpenShell gateway's receive limit. The
// gateway's tonic client to an external driver sets no max_decoding_message_size, so it reads
// replies with tonic's default 4 MiB limit, and it reconciles through one ListSandboxes every 60 s
// (the contract has no paging). A List past 4 MiB fails in the gateway ("decoded message length too
// large") and its reconcile stops for as long as the fleet stays that big. The driver exports the
// size and warns once as it passes WARN_BYTES, early enough to act, and says once when it is back.
import { toBinary } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import type { Gauge } from "prom-client";
import { ComputeDriver, ListSandboxesResponseSchema, type ListSandboxesResponse } from "../gen/compute_driver_pb";
import { logger } from "../log";

const log = logger("grpc");

export const GATEWAY_RECEIVE_LIMIT_BYTES = 4 * 1024 * 1024;
export const LIST_REPLY_WARN_BYTES = 3.5 * 1024 * 1024;

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const varintSize = (n: number) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x20_0000 ? 3 : n < 0x1000_0000 ? 4 : 5);

/**
 * The reply's protobuf size. The cache's replies carry their sandboxes as pre-encoded unknown
 * fields (encoded-sandboxes.ts), whose `data` already holds the length prefix: their size is a sum,
 * not a second encoding of every sandbox. A reply built the normal way is encoded to be measured.
 */
export function listReplyBytes(reply: ListSandboxesResponse): number {
  if (reply.sandboxes.length > 0) return toBinary(ListSandboxesResponseSchema, reply).length;
  let bytes = 0;
  for (const field of reply.$unknown ?? []) bytes += varintSize((field.no << 3) | field.wireType) + field.data.length;
  return bytes;
}

export class ListReplySize {
  #above = false;

  constructor(
    private readonly gauge: Gauge,
    private readonly warnBytes = LIST_REPLY_WARN_BYTES,
  ) {}

  observe(bytes: number): void {
    this.gauge.set(bytes);
    if (!this.#above && bytes > this.warnBytes) {
      this.#above = true;
      log.warn(
        `ListSandboxes replies passed ${mib(this.warnBytes)}: the OpenShell gateway reads driver replies with a ${mib(GATEWAY_RECEIVE_LIMIT_BYTES)} limit (tonic's default) and its reconcile fails past it; fewer sandboxes per gateway, or a gateway with a larger limit, is needed`,
        { bytes, warnBytes: this.warnBytes, gatewayLimitBytes: GATEWAY_RECEIVE_LIMIT_BYTES },
      );
    } else if (this.#above && bytes <= this.warnBytes) {
      this.#above = false;
      log.info(`ListSandboxes replies are back under ${mib(this.warnBytes)}, within the gateway's ${mib(GATEWAY_RECEIVE_LIMIT_BYTES)} receive limit`, { bytes });
    }
  }
}

/** Measures the binary ListSandboxes replies; a JSON reply is not what the gateway reads. */
export function listReplySizeInterceptor(size: ListReplySize): Interceptor {
  return (next) => async (req) => {
    const res = await next(req);
    const isList = req.service.typeName === ComputeDriver.typeName && req.method.name === ComputeDriver.method.listSandboxes.name;
    if (isList && !res.stream && !req.header.get("content-type")?.includes("json")) size.observe(listReplyBytes(res.message as ListSandboxesResponse));
    return res;
  };
}
