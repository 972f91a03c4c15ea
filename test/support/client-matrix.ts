// The contract tier's client matrix: every gRPC client the driver is tested with, each opening a
// `unix:` target with that client's DEFAULT channel options (its default :authority for a Unix
// socket is exactly what took the driver down with grpcio 1.85), each pinned:
// - python grpcio, the newest on PyPI and the oldest its authors still support, from per-version
//   venvs built with --require-hashes by scripts/client-matrix.sh (test/python-clients/*.txt),
//   plus Debian's python3-grpcio (what `./dev` installs);
// - @grpc/grpc-js and Connect, from bun.lock;
// - grpc-go, a small client in test/go-client pinned by go.sum, built by the same script;
// - tonic, the gateway's stack (test/tonic-client, Cargo.lock).
// Messages cross as protobuf bytes, so every client runs without generated code.
import { toBinary, type DescMessage, type DescMethod, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ComputeDriver } from "../../src/gen/compute_driver_pb";
import { connectClient, type CallResult } from "./clients";
import { REPO } from "./paths";
import { buildTonicProbe } from "./tonic";

/**
 * gRPC's published support policy (grpc.io FAQ, "How long are gRPC releases supported for?"): no
 * LTS releases; the current release and the one before it get bug and security fixes. So the
 * oldest grpcio its authors still support is the newest patch of the previous minor release.
 * Both move when PyPI serves a new minor: regenerate test/python-clients/ (README, contract tier).
 */
export const GRPCIO_NEWEST = "1.85.4";
export const GRPCIO_OLDEST_SUPPORTED = "1.84.2";

const CLIENTS_DIR = join(REPO, ".cache/clients");
const PY_CLIENT = join(REPO, "test/support/grpcio_client.py");
const GO_CLIENT = join(CLIENTS_DIR, "go-client/go-client");
const SERVICE_PATH = `/${ComputeDriver.typeName}/`;
const SETUP_HINT = "run `just client-matrix` (scripts/client-matrix.sh) first";

/** A stream is read until `limit` messages arrived or one contains `until`, then cancelled. */
export interface StreamRead {
  limit: number;
  until?: Uint8Array;
}

/** One call's outcome; a stream's responses end with one GetCapabilities reply from the same channel. */
export interface MatrixResult extends CallResult<Uint8Array> {
  /** The client library's version as the running client reports it (external clients). */
  version?: string;
}

/** One client of the matrix, connected to one socket. */
export interface MatrixClient {
  call(method: string, request: MessageShape<DescMessage>, stream?: StreamRead): Promise<MatrixResult>;
  close(): void;
}

function methodDesc(name: string): DescMethod {
  const m = ComputeDriver.methods.find((x) => x.name === name);
  if (!m) throw new Error(`no method ${name}`);
  return m;
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack).includes(Buffer.from(needle));
}

function packageVersion(name: string): string {
  return (JSON.parse(readFileSync(join(REPO, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
}

/** A client run as its own process per call: `PROGRAM... SOCKET METHOD unary|stream HEX [LIMIT [UNTIL_HEX]]`. */
async function runProbe(argv: string[], socket: string, method: string, request: MessageShape<DescMessage>, stream?: StreamRead) {
  const hex = Buffer.from(toBinary(methodDesc(method).input, request)).toString("hex");
  const args = [...argv, socket, method, stream ? "stream" : "unary", hex];
  if (stream) args.push(String(stream.limit), ...(stream.until ? [Buffer.from(stream.until).toString("hex")] : []));
  const proc = Bun.spawn(args, { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${argv.join(" ")} failed (${code}): ${err}`);
  const parsed = JSON.parse(out) as { code: string; details: string; responses: string[]; version?: string };
  return { ...parsed, responses: parsed.responses.map((h) => Uint8Array.from(Buffer.from(h, "hex"))) };
}

function probeClient(argv: string[], socket: string): MatrixClient {
  return {
    call: (method, request, stream) => runProbe(argv, socket, method, request, stream),
    close: () => {},
  };
}

/** Connect (the project's own stack, also `openshell-driver-k8s client`). */
function connectMatrixClient(socket: string): MatrixClient {
  const typed = connectClient(socket);
  const client = typed as unknown as Record<string, (req: unknown, opts?: { signal?: AbortSignal }) => unknown>;
  return {
    async call(method, request, stream) {
      const m = methodDesc(method);
      const fn = client[m.localName]!.bind(client);
      try {
        if (!stream) return { code: "OK", details: "", responses: [toBinary(m.output, (await fn(request)) as MessageShape<DescMessage>)] };
        const responses: Uint8Array[] = [];
        const abort = new AbortController();
        try {
          for await (const msg of fn(request, { signal: abort.signal }) as AsyncIterable<MessageShape<DescMessage>>) {
            const bytes = toBinary(m.output, msg);
            responses.push(bytes);
            if (responses.length >= stream.limit || (stream.until && contains(bytes, stream.until))) break;
          }
        } finally {
          abort.abort();
        }
        const caps = await typed.getCapabilities({});
        responses.push(toBinary(methodDesc("GetCapabilities").output, caps));
        return { code: "OK", details: "", responses };
      } catch (err) {
        const e = ConnectError.from(err);
        return { code: Code[e.code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase(), details: e.rawMessage, responses: [] };
      }
    },
    close: () => {},
  };
}

/** @grpc/grpc-js with a plain `unix:` target and no channel options. */
function grpcJsMatrixClient(socket: string): MatrixClient {
  const channel = new grpc.Client(`unix:${socket}`, grpc.credentials.createInsecure());
  const identity = (b: Buffer) => b;
  const encode = (method: string, request: MessageShape<DescMessage>) => Buffer.from(toBinary(methodDesc(method).input, request));
  const unary = (method: string, body: Buffer) =>
    new Promise<MatrixResult>((resolve) => {
      channel.makeUnaryRequest(SERVICE_PATH + method, identity, identity, body, (err, value) => {
        if (err) resolve({ code: grpc.status[err.code] ?? String(err.code), details: err.details, responses: [] });
        else resolve({ code: "OK", details: "", responses: value ? [Uint8Array.from(value)] : [] });
      });
    });
  return {
    async call(method, request, stream) {
      if (!stream) return unary(method, encode(method, request));
      const read = await new Promise<MatrixResult>((resolve) => {
        const responses: Uint8Array[] = [];
        let done = false;
        const call = channel.makeServerStreamRequest(SERVICE_PATH + method, identity, identity, encode(method, request));
        call.on("data", (msg: Buffer) => {
          if (done) return;
          responses.push(Uint8Array.from(msg));
          if (responses.length >= stream.limit || (stream.until && contains(msg, stream.until))) {
            done = true;
            call.cancel();
          }
        });
        call.on("error", (err: grpc.ServiceError) => {
          const code = grpc.status[err.code] ?? String(err.code);
          resolve({ code: code === "CANCELLED" && done ? "OK" : code, details: done ? "" : err.details, responses });
        });
        call.on("end", () => resolve({ code: "OK", details: "", responses }));
      });
      if (read.code !== "OK") return read;
      const ping = await unary("GetCapabilities", Buffer.alloc(0));
      return { ...ping, responses: [...read.responses, ...ping.responses] };
    },
    close: () => channel.close(),
  };
}

function venvPython(version: string): string {
  return join(CLIENTS_DIR, `grpcio-${version}/bin/python`);
}

/** Debian's python3-grpcio version, as that interpreter reports it (not pinned here: Debian's release pins it). */
function debianGrpcioVersion(): string {
  const proc = Bun.spawnSync(["/usr/bin/python3", "-c", "import grpc; print(grpc.__version__)"], { stdout: "pipe", stderr: "pipe" });
  if (proc.exitCode !== 0) throw new Error(`Debian's python3-grpcio is missing (./dev installs it): ${proc.stderr.toString()}`);
  return proc.stdout.toString().trim();
}

function cargoLockVersion(crate: string): string {
  const lock = readFileSync(join(REPO, "test/tonic-client/Cargo.lock"), "utf8");
  const found = new RegExp(`name = "${crate}"\\nversion = "([^"]+)"`).exec(lock);
  if (!found) throw new Error(`${crate} is not in test/tonic-client/Cargo.lock`);
  return found[1]!;
}

function goModVersion(module: string): string {
  const mod = readFileSync(join(REPO, "test/go-client/go.mod"), "utf8");
  const found = new RegExp(`${module.replaceAll(".", "\\.")} v(\\S+)`).exec(mod);
  if (!found) throw new Error(`${module} is not in test/go-client/go.mod`);
  return found[1]!;
}

/** The versions the matrix pins, as its lockfiles say (the README's table lists them). */
export function pinnedClientVersions(): Record<string, string> {
  return {
    "grpcio newest": GRPCIO_NEWEST,
    "grpcio oldest supported": GRPCIO_OLDEST_SUPPORTED,
    "@grpc/grpc-js": packageVersion("@grpc/grpc-js"),
    "@connectrpc/connect-node": packageVersion("@connectrpc/connect-node"),
    tonic: cargoLockVersion("tonic"),
    "grpc-go": goModVersion("google.golang.org/grpc"),
  };
}

export interface MatrixEntry {
  /** Short and DNS-safe, for sandbox names. */
  key: string;
  /** The client and the version under test: one row of the README's matrix. */
  client: string;
  version: string;
  /** Whether the running client reports `version` itself (grpcio, grpc-go), which the walk then checks. */
  reportsVersion: boolean;
  open(socket: string): MatrixClient;
}

/** Fails with the set-up command when a pinned client has not been built; builds the tonic probe. */
export function prepareClientMatrix(): MatrixEntry[] {
  for (const path of [venvPython(GRPCIO_NEWEST), venvPython(GRPCIO_OLDEST_SUPPORTED), GO_CLIENT]) {
    if (!existsSync(path)) throw new Error(`${path} is missing: ${SETUP_HINT}`);
  }
  const tonicProbe = buildTonicProbe();
  const debian = debianGrpcioVersion();
  const python = (key: string, client: string, version: string, interpreter: string): MatrixEntry => ({
    key,
    client,
    version,
    reportsVersion: true,
    open: (socket) => probeClient([interpreter, PY_CLIENT], socket),
  });
  return [
    python("py-newest", "python grpcio (newest on PyPI)", GRPCIO_NEWEST, venvPython(GRPCIO_NEWEST)),
    python("py-oldest", "python grpcio (oldest supported)", GRPCIO_OLDEST_SUPPORTED, venvPython(GRPCIO_OLDEST_SUPPORTED)),
    python("py-debian", "python grpcio (Debian python3-grpcio)", debian, "/usr/bin/python3"),
    { key: "grpc-js", client: "@grpc/grpc-js", version: packageVersion("@grpc/grpc-js"), reportsVersion: false, open: grpcJsMatrixClient },
    {
      key: "connect",
      client: "Connect (@connectrpc/connect-node)",
      version: packageVersion("@connectrpc/connect-node"),
      reportsVersion: false,
      open: connectMatrixClient,
    },
    {
      key: "tonic",
      client: "tonic (the gateway's stack)",
      version: cargoLockVersion("tonic"),
      reportsVersion: false,
      open: (socket) => probeClient([tonicProbe], socket),
    },
    {
      key: "grpc-go",
      client: "grpc-go",
      version: goModVersion("google.golang.org/grpc"),
      reportsVersion: true,
      open: (socket) => probeClient([GO_CLIENT], socket),
    },
  ];
}

/** grpcio at `version` from its pinned venv, for tests about one release's behaviour. */
export function grpcioClient(version: string, socket: string): MatrixClient {
  const python = venvPython(version);
  if (!existsSync(python)) throw new Error(`${python} is missing: ${SETUP_HINT}`);
  return probeClient([python, PY_CLIENT], socket);
}
