// `just bench`: speed and memory of the driver, written to BENCHMARKS.md with the command that
// produced each figure. Figures vary with the machine; the table records where they were taken.
import { create, toBinary } from "@bufbuild/protobuf";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListSandboxesResponseSchema } from "../src/gen/compute_driver_pb";
import { resolveConfig } from "../src/config";
import { observeSandbox, renderSandbox, validateSandbox, type RenderSettings } from "../src/sandbox";
import { connectClient } from "../test/support/clients";
import { startDriver } from "../test/support/driver-process";
import { sandboxRequest } from "../test/support/requests";
import { memoryMiB } from "./driver-timing";
import { provenance, saveResult } from "./report";
import { SyntheticApi } from "./synthetic-api";

const COMMAND = "just bench";
const SANDBOXES = Number(process.env.BENCH_SANDBOXES ?? 5000);

interface Row {
  what: string;
  value: string;
}
const rows: Row[] = [];
const record = (what: string, value: string) => {
  rows.push({ what, value });
  console.log(`${what}: ${value}`);
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}


async function timeCalls(n: number, call: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await call();
    samples.push(performance.now() - t);
  }
  return samples.sort((a, b) => a - b);
}

// The driver's own defaults, as `serve` would build them.
const settings: RenderSettings = {
  ...resolveConfig({ "gateway-id": "bench", "default-image": "busybox:1.36", "gateway-endpoint": "http://gateway:8080" }, {}, false).render,
  apiVersion: "v1beta1",
};

// 1. Pure rendering: validate + render, and observe.
{
  const request = sandboxRequest({ id: "bench-id", name: "bench", environment: { A: "1", B: "2", C: "3" } });
  const n = 20_000;
  for (let i = 0; i < 1000; i++) renderSandbox(validateSandbox(request, settings), settings);
  let t = performance.now();
  for (let i = 0; i < n; i++) renderSandbox(validateSandbox(request, settings), settings);
  record("validate + render one sandbox (pure)", `${((performance.now() - t) * 1000 / n).toFixed(1)} µs`);
  const cr = renderSandbox(validateSandbox(request, settings), settings);
  cr.status = { conditions: [{ type: "Ready", status: "True", reason: "DependenciesReady", message: "Pod is Ready", lastTransitionTime: "2026-11-22T10:00:00Z" }] };
  t = performance.now();
  for (let i = 0; i < n; i++) observeSandbox(cr, undefined);
  record("observe one Sandbox CR → DriverSandbox (pure)", `${((performance.now() - t) * 1000 / n).toFixed(1)} µs`);
}

// 2. The compiled binary over its Unix socket, with a synthetic API holding SANDBOXES sandboxes.
{
  const api = new SyntheticApi(SANDBOXES);
  await api.start();
  const dir = mkdtempSync(join(tmpdir(), "osdrv-bench-"));
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, api.kubeconfig());

  const unreachable = join(dir, "unreachable.kubeconfig");
  writeFileSync(unreachable, api.kubeconfig().replace(`127.0.0.1:${api.port}`, "127.0.0.1:9"));
  const idle = await startDriver({ kubeconfig: unreachable, gatewayId: "bench", waitFor: "socket" });
  record("driver RSS, idle (socket bound, no cluster reachable)", `${memoryMiB(idle.proc.pid).rss.toFixed(0)} MiB`);
  await idle.stop();

  const started = performance.now();
  const driver = await startDriver({ kubeconfig, gatewayId: "bench", args: ["--log-level=info"] });
  record(`start → ready with ${SANDBOXES} sandboxes to list`, `${(performance.now() - started).toFixed(0)} ms`);
  const client = connectClient(driver.socket);

  const caps = await timeCalls(2000, () => client.getCapabilities({}));
  record("GetCapabilities round trip over the UDS (2000 calls)", `p50 ${percentile(caps, 50).toFixed(3)} ms, p99 ${percentile(caps, 99).toFixed(3)} ms`);

  const gets = await timeCalls(2000, () => client.getSandbox({ sandboxId: `bench-${String(Math.floor(Math.random() * SANDBOXES)).padStart(6, "0")}` }));
  record(`GetSandbox from the cache of ${SANDBOXES} (2000 calls)`, `p50 ${percentile(gets, 50).toFixed(3)} ms, p99 ${percentile(gets, 99).toFixed(3)} ms`);

  const reply = await client.listSandboxes({});
  const bytes = toBinary(ListSandboxesResponseSchema, create(ListSandboxesResponseSchema, reply)).byteLength;
  const lists = await timeCalls(50, () => client.listSandboxes({}));
  record(
    `ListSandboxes of ${reply.sandboxes.length} (${(bytes / 1024).toFixed(0)} KiB reply, 50 calls)`,
    `p50 ${percentile(lists, 50).toFixed(1)} ms, p99 ${percentile(lists, 99).toFixed(1)} ms`,
  );

  const abort = new AbortController();
  const t = performance.now();
  let received = 0;
  for await (const _ of client.watchSandboxes({}, { signal: abort.signal })) {
    if (++received === SANDBOXES) break;
  }
  abort.abort();
  record(`WatchSandboxes: full state of ${SANDBOXES} to a new stream`, `${(performance.now() - t).toFixed(0)} ms`);

  const memory = memoryMiB(driver.proc.pid);
  record(`driver RSS with ${SANDBOXES} sandboxes and their pods cached, after the reads above`, `${memory.rss.toFixed(0)} MiB (high-water ${memory.hwm.toFixed(0)} MiB)`);
  await driver.stop();
  api.close();
}

saveResult("synthetic", {
  ...provenance(COMMAND),
  rows,
  notes: `The compiled binary over its Unix socket with the Connect client, against a synthetic API server (\`bench/synthetic-api.ts\`) holding ${SANDBOXES} sandboxes (\`BENCH_SANDBOXES\`), so thousands can be listed without a cluster.`,
});
