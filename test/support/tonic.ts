// A fourth independent client: tonic (Rust, hyper h2), connecting over the Unix socket exactly
// like the OpenShell gateway. hyper's h2 is strict about HTTP/2 framing and trailers, so it
// catches server bugs the more forgiving clients tolerate. The probe is a tiny cargo crate in
// test/tonic-client, built on demand; its target dir lives outside the repo so clones share it.
import { toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { homedir } from "node:os";
import { join } from "node:path";
import { ComputeDriver } from "../../src/gen/compute_driver_pb";
import type { CallResult } from "./clients";
import { REPO } from "./paths";

const CRATE_DIR = join(REPO, "test/tonic-client");
const TARGET_DIR = join(homedir(), ".cache/openshell-driver-k8s/tonic-target");
const PROBE_BIN = join(TARGET_DIR, "release/tonic-probe");

/** A tonic result; `error` is tonic's full Status (debug form) when the call failed. */
export interface TonicResult extends CallResult<Uint8Array> {
  error: string;
}

/** Builds the probe (offline-pinned by Cargo.lock) and returns its path. Fails loudly without cargo. */
export function buildTonicProbe(): string {
  const cargo = Bun.which("cargo") ?? Bun.which("cargo", { PATH: join(homedir(), ".cargo/bin") });
  if (!cargo) throw new Error("cargo is not on PATH (nor in ~/.cargo/bin): the tonic contract test needs a Rust toolchain");
  const proc = Bun.spawnSync([cargo, "build", "--release", "--locked", "--quiet"], {
    cwd: CRATE_DIR,
    env: { ...process.env, CARGO_TARGET_DIR: TARGET_DIR },
    stdout: "pipe",
    stderr: "pipe",
  });
  if (proc.exitCode !== 0) throw new Error(`cargo build of test/tonic-client failed (${proc.exitCode}):\n${proc.stderr.toString()}`);
  return PROBE_BIN;
}

/** tonic over the Unix socket. Stream calls read `limit` messages, cancel, then append one GetCapabilities reply. */
export async function tonicCall(
  socket: string,
  name: string,
  request: MessageShape<DescMessage>,
  stream?: { limit: number },
): Promise<TonicResult> {
  const m = ComputeDriver.methods.find((x) => x.name === name);
  if (!m) throw new Error(`no method ${name}`);
  const hex = Buffer.from(toBinary(m.input, request)).toString("hex");
  const args = [PROBE_BIN, socket, name, stream ? "stream" : "unary", hex];
  if (stream) args.push(String(stream.limit));
  const proc = Bun.spawn(args, { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`tonic-probe failed (${code}): ${err}`);
  const parsed = JSON.parse(out) as { code: string; details: string; responses: string[]; error: string };
  return { ...parsed, responses: parsed.responses.map((h) => Uint8Array.from(Buffer.from(h, "hex"))) };
}
