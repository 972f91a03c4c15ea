// Three independent clients for the same socket: Connect (the project's own stack), @grpc/grpc-js
// (a different HTTP/2 and gRPC implementation) and python grpcio (C-core).
import { fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { join } from "node:path";
import { ComputeDriver } from "../../src/gen/compute_driver_pb";
import { REPO } from "./paths";

export { driverClient as connectClient } from "../../src/cli/client";

const SERVICE_PATH = `/${ComputeDriver.typeName}/`;

export interface CallResult<T> {
  code: string;
  details: string;
  responses: T[];
}

function methodDesc(name: string) {
  const m = ComputeDriver.methods.find((x) => x.name === name);
  if (!m) throw new Error(`no method ${name}`);
  return m;
}

/** @grpc/grpc-js over the Unix socket, with serializers from the generated descriptors. */
export class GrpcJsClient {
  readonly #client: grpc.Client;
  constructor(socket: string) {
    this.#client = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure());
  }
  close(): void {
    this.#client.close();
  }
  unary<O extends DescMessage>(name: string, request: MessageShape<DescMessage>): Promise<CallResult<MessageShape<O>>> {
    const m = methodDesc(name);
    return new Promise((resolve) => {
      this.#client.makeUnaryRequest(
        SERVICE_PATH + name,
        (msg: MessageShape<DescMessage>) => Buffer.from(toBinary(m.input, msg)),
        (buf: Buffer) => fromBinary(m.output, buf) as MessageShape<O>,
        request,
        (err, value) => {
          if (err) resolve({ code: grpc.status[err.code] ?? String(err.code), details: err.details, responses: [] });
          else resolve({ code: "OK", details: "", responses: value ? [value] : [] });
        },
      );
    });
  }
  /** Reads `limit` messages of a server stream, then cancels it. */
  stream<O extends DescMessage>(name: string, request: MessageShape<DescMessage>, limit: number): Promise<CallResult<MessageShape<O>>> {
    const m = methodDesc(name);
    return new Promise((resolve) => {
      const responses: MessageShape<O>[] = [];
      const call = this.#client.makeServerStreamRequest(
        SERVICE_PATH + name,
        (msg: MessageShape<DescMessage>) => Buffer.from(toBinary(m.input, msg)),
        (buf: Buffer) => fromBinary(m.output, buf) as MessageShape<O>,
        request,
      );
      call.on("data", (msg: MessageShape<O>) => {
        responses.push(msg);
        if (responses.length === limit) call.cancel();
      });
      call.on("error", (err: grpc.ServiceError) => {
        const code = grpc.status[err.code] ?? String(err.code);
        resolve({ code: code === "CANCELLED" && responses.length === limit ? "OK" : code, details: err.details, responses });
      });
      call.on("end", () => resolve({ code: "OK", details: "", responses }));
    });
  }
}

const PYTHON = "/usr/bin/python3";
const PY_CLIENT = join(REPO, "test/support/grpcio_client.py");

/** python grpcio (C-core) over the Unix socket. Stream calls append one GetCapabilities reply. */
export async function pythonCall(
  socket: string,
  name: string,
  request: MessageShape<DescMessage>,
  stream?: { limit: number },
): Promise<CallResult<Uint8Array>> {
  const m = methodDesc(name);
  const hex = Buffer.from(toBinary(m.input, request)).toString("hex");
  const args = [PYTHON, PY_CLIENT, socket, name, stream ? "stream" : "unary", hex];
  if (stream) args.push(String(stream.limit));
  const proc = Bun.spawn(args, { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`python grpcio client failed (${code}): ${err}`);
  const parsed = JSON.parse(out) as { code: string; details: string; responses: string[] };
  return { ...parsed, responses: parsed.responses.map((h) => Uint8Array.from(Buffer.from(h, "hex"))) };
}
