// Read load on the driver's socket at a fixed number of calls in flight, from two clients: the
// project's Connect stack in this process, and python grpcio (C-core) in its own process
// (bench/load_client.py), so a figure is not only an artefact of our own client.
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { GetSandboxRequestSchema, ListSandboxesRequestSchema, WatchSandboxesRequestSchema } from "../src/gen/compute_driver_pb";
import { connectClient } from "../test/support/clients";
import { REPO } from "../test/support/paths";

export type ReadOp = "GetSandbox" | "ListSandboxes" | "WatchSandboxes";

export interface LoadResult {
  client: "connect" | "grpcio";
  op: ReadOp;
  inFlight: number;
  calls: number;
  errors: Record<string, number>;
  perSecond: number;
  p50: number;
  p99: number;
}

export interface LoadSpec {
  socket: string;
  op: ReadOp;
  inFlight: number;
  seconds: number;
  /** Sandbox ids for GetSandbox, used round-robin. */
  ids: string[];
  /** Messages a WatchSandboxes call reads (the full initial state) before it cancels. */
  watchMessages: number;
  /** Where the python client's request file goes. */
  dir: string;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summarize(client: LoadResult["client"], spec: LoadSpec, latencies: number[], errors: Record<string, number>, seconds: number): LoadResult {
  const sorted = latencies.sort((a, b) => a - b);
  return { client, op: spec.op, inFlight: spec.inFlight, calls: sorted.length, errors, perSecond: sorted.length / seconds, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

export async function connectLoad(spec: LoadSpec): Promise<LoadResult> {
  const client = connectClient(spec.socket);
  const one = async (i: number): Promise<void> => {
    if (spec.op === "GetSandbox") {
      await client.getSandbox({ sandboxId: spec.ids[i % spec.ids.length]! });
    } else if (spec.op === "ListSandboxes") {
      await client.listSandboxes({});
    } else {
      const abort = new AbortController();
      let received = 0;
      try {
        for await (const _ of client.watchSandboxes({}, { signal: abort.signal })) {
          if (++received === spec.watchMessages) break;
        }
      } finally {
        abort.abort();
      }
      if (received < spec.watchMessages) throw new Error(`watch ended after ${received} of ${spec.watchMessages} messages`);
    }
  };
  // One warm-up call so connection setup is not in the first sample.
  await client.getCapabilities({});
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const started = performance.now();
  const deadline = started + spec.seconds * 1000;
  await Promise.all(
    Array.from({ length: spec.inFlight }, async (_, worker) => {
      for (let i = worker; performance.now() < deadline; i += spec.inFlight) {
        const t = performance.now();
        try {
          await one(i);
          latencies.push(performance.now() - t);
        } catch (err) {
          const key = err instanceof ConnectError ? `${Code[err.code]}: ${err.rawMessage}` : (err as Error).message;
          errors[key] = (errors[key] ?? 0) + 1;
        }
      }
    }),
  );
  return summarize("connect", spec, latencies, errors, (performance.now() - started) / 1000);
}

export async function grpcioLoad(spec: LoadSpec): Promise<LoadResult> {
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
  const requests =
    spec.op === "GetSandbox"
      ? spec.ids.map((sandboxId) => hex(toBinary(GetSandboxRequestSchema, create(GetSandboxRequestSchema, { sandboxId }))))
      : spec.op === "ListSandboxes"
        ? [hex(toBinary(ListSandboxesRequestSchema, create(ListSandboxesRequestSchema, {})))]
        : [hex(toBinary(WatchSandboxesRequestSchema, create(WatchSandboxesRequestSchema, {})))];
  const file = join(spec.dir, `requests-${spec.op}.hex`);
  writeFileSync(file, requests.join("\n") + "\n");
  const kind = spec.op === "WatchSandboxes" ? "stream" : "unary";
  const args = ["/usr/bin/python3", join(REPO, "bench/load_client.py"), spec.socket, spec.op, kind, String(spec.inFlight), String(spec.seconds), file];
  if (kind === "stream") args.push(String(spec.watchMessages));
  const proc = Bun.spawn(args, { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`bench/load_client.py failed (${code}): ${err}`);
  const parsed = JSON.parse(out) as { latencies_ms: number[]; errors: Record<string, number>; seconds: number };
  return summarize("grpcio", spec, parsed.latencies_ms, parsed.errors, parsed.seconds);
}
