// `openshell-driver-k8s client`: call any ComputeDriver RPC on a socket and print JSON, for
// operators and for the demo. WatchSandboxes prints one JSON line per event until interrupted.
import { connect } from "node:net";
import { fromJson, toJson, type DescMethod, type JsonValue } from "@bufbuild/protobuf";
import { ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ComputeDriver } from "../gen/compute_driver_pb";

export function driverClient(socketPath: string): Client<typeof ComputeDriver> {
  const transport = createGrpcTransport({
    // The authority is a placeholder: the connection always goes to the Unix socket.
    baseUrl: "http://localhost",
    nodeOptions: { createConnection: () => connect(socketPath) },
  });
  return createClient(ComputeDriver, transport);
}

export function findMethod(name: string): DescMethod {
  const lower = name.toLowerCase();
  const method = ComputeDriver.methods.find((m) => m.name.toLowerCase() === lower || m.localName.toLowerCase() === lower);
  if (!method) {
    throw new Error(`unknown method "${name}"; one of: ${ComputeDriver.methods.map((m) => m.name).join(", ")}`);
  }
  return method;
}

function parseRequest(method: DescMethod, json: string | undefined) {
  let value: JsonValue;
  try {
    value = json === undefined || json.trim() === "" ? {} : (JSON.parse(json) as JsonValue);
  } catch (err) {
    throw new Error(`request is not valid JSON: ${(err as Error).message}`);
  }
  return fromJson(method.input, value);
}

/** Exit status when the reader of our output went away (`| head`), as if killed by SIGPIPE. */
const READER_GONE_EXIT = 141;

/**
 * Lines to `stream`, each resolved once the OS has taken it: a pipe takes 64 KiB at a time, and
 * `process.exit` right after a plain `write` drops the rest. A reader that stops early ends the
 * process quietly.
 */
export function lineWriter(stream: NodeJS.WriteStream): (line: string) => Promise<void> {
  stream.once("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") process.stderr.write(`error: writing the output: ${err.message}\n`);
    process.exit(err.code === "EPIPE" ? READER_GONE_EXIT : 1);
  });
  return (line) => new Promise((resolve) => stream.write(`${line}\n`, () => resolve()));
}

/** Runs one call; returns the process exit code. */
export async function runClient(opts: {
  socket: string;
  method: string;
  request: string | undefined;
  out: (line: string) => Promise<void>;
  err: (line: string) => Promise<void>;
  signal: AbortSignal;
}): Promise<number> {
  const method = findMethod(opts.method);
  const request = parseRequest(method, opts.request);
  const client = driverClient(opts.socket) as unknown as Record<
    string,
    (req: unknown, options: { signal: AbortSignal }) => unknown
  >;
  const call = client[method.localName]!;
  try {
    if (method.methodKind === "server_streaming") {
      for await (const event of call(request, { signal: opts.signal }) as AsyncIterable<never>) {
        await opts.out(JSON.stringify(toJson(method.output, event)));
      }
    } else {
      const response = await (call(request, { signal: opts.signal }) as Promise<never>);
      await opts.out(JSON.stringify(toJson(method.output, response, { alwaysEmitImplicit: true }), null, 2));
    }
    return 0;
  } catch (err) {
    const e = ConnectError.from(err);
    if (opts.signal.aborted) return 0;
    await opts.err(`error: ${method.name}: ${e.rawMessage} (${codeName(e.code)})`);
    return 1;
  }
}

function codeName(code: number): string {
  const names = ["OK", "CANCELED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"];
  return names[code] ?? String(code);
}
