// `just bench-cluster N`: the compiled driver on the local control plane with N sandboxes, as the
// least-privileged driver identity. Sandboxes mount one user claim under /sandbox, so the driver
// renders no workspace claim and no volume controller works during the run. One is made by
// CreateSandbox and becomes the template; the comparison creates alternate CreateSandbox with a
// raw POST of the same CR; the rest are raw POSTs of the template in bulk. After the read load,
// Stop, Start, Delete and a Get miss are timed against the raw writes (write-latency.ts).
// Everything the run made is deleted by its gateway label at the end, and the run waits until it
// is gone; so it is when the run is interrupted (SIGINT, SIGTERM, SIGHUP), and a run first
// deletes what an earlier run killed outright left behind (BenchSandboxes.sweepLeftovers).
// Env: BENCH_SECONDS (per load cell, default 3), BENCH_IN_FLIGHT (default 1,16,64),
// BENCH_DRIVER_BIN (another build of the driver to compare), BENCH_FLEET=stopped (the bulk made
// stopped, operatingMode Suspended, so it has no pods: a 50,000 fleet of running sandboxes takes
// kwok and the controller longer than the run's budget on this machine; the sandboxes the write
// cells stop, start and delete still run).
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectClient } from "../test/support/clients";
import { clusterState, driverKubeconfig } from "../test/support/cluster";
import { BenchSandboxes, NAMESPACE } from "./cluster-fixture";
import { memoryMiB, resetHighWater, spawnDriver, waitUntilServed, type TimedDriver } from "./driver-timing";
import { connectLoad, grpcioLoad, type LoadResult, type ReadOp } from "./load";
import { CLUSTER_MEASURES, provenance, saveResult, type ClusterMeasures, type Figure } from "./report";
import { retried } from "./retried";
import { benchWrites, writePool, writeSizes, type WriteBenchResult } from "./write-latency";

export interface ClusterBenchOptions {
  sandboxes: number;
  /** How long each load cell (client × op × in-flight) runs. */
  seconds: number;
  inFlight: number[];
  /** CreateSandbox calls, and as many raw POSTs, in the create comparison. */
  createSamples: number;
  /** Make the bulk stopped (no pods), but for the sandboxes the write cells use. */
  stoppedFleet?: boolean;
  log?: (line: string) => void;
}

export interface ClusterBenchResult {
  /** The gateway id (and label value) every object of the run carried. */
  gatewayId: string;
  figures: Figure[];
  phases: string[];
  created: number;
  servedCount: number;
  podsSeen: number;
  load: LoadResult[];
  /** Filled as the phases run; complete only when the run got through the load. */
  measures: Partial<ClusterMeasures>;
  writes?: WriteBenchResult;
  leftBehind: { sandboxes: number; pods: number };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${x < 10 ? x.toFixed(2) : x.toFixed(0)} ms`;
const OPS: ReadOp[] = ["GetSandbox", "ListSandboxes", "WatchSandboxes"];

function kubectlAs(kubeconfig: string, args: string[]): string {
  const proc = Bun.spawnSync([join(clusterState().binDir, "kubectl"), "--kubeconfig", kubeconfig, ...args], { stdout: "pipe", stderr: "pipe" });
  if (proc.exitCode !== 0) throw new Error(`kubectl ${args.join(" ")}: ${proc.stderr.toString()}`);
  return proc.stdout.toString();
}

export async function runClusterBench(opts: ClusterBenchOptions): Promise<ClusterBenchResult> {
  const n = opts.sandboxes;
  const log = opts.log ?? (() => {});
  const run = `bench-${Date.now().toString(36)}`;
  const gatewayId = run;
  const figures: Figure[] = [];
  const phases: string[] = [];
  const figure = (what: string, value: string, how: string) => {
    figures.push({ what, value, how });
    log(`${what}: ${value}`);
  };
  const phase = (name: string) => {
    phases.push(name);
    log(`-- ${name}`);
  };
  const kubeconfig = driverKubeconfig();
  const fixture = await BenchSandboxes.open(run, gatewayId, kubeconfig);
  const swept = await fixture.sweepLeftovers();
  if (swept > 0) log(`deleted ${swept} sandboxes earlier runs that died left behind`);
  fixture.markRunning();
  const cleanUp = onceCleanUp(async () => {
    for (const d of drivers) await d.stop();
    return fixture.cleanUp(Math.max(120_000, n * 60));
  });
  const interrupted = (signal: NodeJS.Signals) => {
    console.error(`${signal}: cleaning up the run's sandboxes before exiting`);
    void cleanUp()
      .catch((err) => console.error(`clean-up failed; delete what is left with: kubectl delete sandboxes,pvc -n ${NAMESPACE} -l ${fixture.selector}\n`, err))
      .finally(() => process.exit(130));
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, interrupted);
  const scratch = mkdtempSync(join(tmpdir(), "osdrv-bench-cluster-"));
  const drivers: TimedDriver[] = [];
  const start = async (config: string) => {
    const d = await spawnDriver(config, gatewayId, NAMESPACE);
    drivers.push(d);
    return d;
  };
  const measures: Partial<ClusterMeasures> = {};
  const result: ClusterBenchResult = { gatewayId, figures, phases, created: 0, servedCount: 0, podsSeen: 0, load: [], measures, leftBehind: { sandboxes: -1, pods: -1 } };
  try {
    phase("idle");
    const unreachable = join(scratch, "unreachable.kubeconfig");
    writeFileSync(unreachable, readFileSync(kubeconfig, "utf8").replace(/server: \S+/, "server: https://127.0.0.1:9"));
    const idle = await start(unreachable);
    await Bun.sleep(1000);
    measures.rssIdleMiB = memoryMiB(idle.proc.pid).rss;
    figure("driver RSS idle (socket bound, no cluster reachable)", `${measures.rssIdleMiB.toFixed(1)} MiB`, "VmRSS 1 s after the socket is bound, kubeconfig server 127.0.0.1:9");
    await idle.stop();

    phase("empty");
    fixture.createClaim();
    const empty = await start(kubeconfig);
    await waitUntilServed(empty, 0);
    await Bun.sleep(1000);
    const rssEmpty = memoryMiB(empty.proc.pid).rss;
    measures.rssEmptyMiB = rssEmpty;
    figure("driver RSS with 0 sandboxes (connected, synced)", `${rssEmpty.toFixed(1)} MiB`, "VmRSS 1 s after the first ListSandboxes answers");

    phase("create");
    const client = connectClient(empty.socket);
    const ids: string[] = [];
    await client.createSandbox({ sandbox: fixture.request(`${run}-tpl-id`, `${run}-tpl`) });
    ids.push(`${run}-tpl-id`);
    await fixture.takeTemplate(`${run}-tpl-id`, `${run}-tpl`);
    const viaDriver: number[] = [];
    const viaPost: number[] = [];
    for (let i = 0; i < opts.createSamples; i++) {
      let t = performance.now();
      await client.createSandbox({ sandbox: fixture.request(`${run}-d${i}-id`, `${run}-d${i}`) });
      viaDriver.push(performance.now() - t);
      t = performance.now();
      await fixture.post(`${run}-r${i}-id`, `${run}-r${i}`);
      viaPost.push(performance.now() - t);
      ids.push(`${run}-d${i}-id`, `${run}-r${i}-id`);
    }
    const [driverP50, postP50] = [median(viaDriver), median(viaPost)];
    measures.createDriverMs = driverP50;
    measures.createPostMs = postP50;
    figure(
      `CreateSandbox vs raw POST of the same CR (p50 of ${opts.createSamples} each, alternating, 1 in flight)`,
      `${ms(driverP50)} vs ${ms(postP50)} (${(driverP50 / postP50).toFixed(2)}×)`,
      "Connect CreateSandbox (claim under /sandbox) vs POST …/sandboxes of the CR it wrote, renamed; driver identity",
    );
    await empty.stop();

    phase("bulk");
    const bulk = n - ids.length;
    const sizes = writeSizes(n);
    // The write cells' sandboxes come last (ids.slice(-pool)) and always run.
    const stopped = opts.stoppedFleet ? bulk - writePool(sizes) : 0;
    let t = performance.now();
    ids.push(...(await fixture.postMany(`${run}-s`, stopped, 32, "Suspended")));
    ids.push(...(await fixture.postMany(`${run}-b`, bulk - stopped)));
    const bulkMs = performance.now() - t;
    figure(
      `raw POST of ${bulk} more Sandbox CRs, 32 in flight${stopped ? ` (${stopped} of them stopped: operatingMode Suspended, no pod)` : ""}`,
      `${(bulkMs / 1000).toFixed(1)} s (${((bulk / bulkMs) * 1000).toFixed(0)}/s)`,
      "POST …/sandboxes, driver identity",
    );
    result.created = await fixture.waitForCount("sandboxes", n, Math.max(300_000, n * 30));
    if (result.created !== n) throw new Error(`expected ${n} bench sandboxes in the cluster, found ${result.created}`);
    t = performance.now();
    result.podsSeen = await fixture.waitForCount("pods", n - stopped, Math.max(120_000, n * 30));
    figure(`agent-sandbox controller: pods for all ${n - stopped} running`, `${result.podsSeen} pods after ${((performance.now() - t) / 1000).toFixed(1)} s more`, "LIST pods by the gateway label, every 0.5 s");

    phase("list");
    const labelled = ["-n", NAMESPACE, "-l", fixture.selector];
    // At 10k one kubectl run takes seconds, and the run holds the shared cluster's lock.
    const samples = n >= 5000 ? 1 : 3;
    // Past 10k kubectl's own decoding dominates (30 s at 10k) and says nothing new.
    if (n <= 10_000) {
      const how = `kubectl get sandboxes.agents.x-k8s.io -n ${NAMESPACE} -l <gateway> -o json --chunk-size=0 (process start included), driver identity`;
      try {
        const kubectlTimes = Array.from({ length: samples }, () => {
          const t0 = performance.now();
          kubectlAs(kubeconfig, ["get", "sandboxes.agents.x-k8s.io", ...labelled, "-o", "json", "--chunk-size=0"]);
          return performance.now() - t0;
        });
        figure(`kubectl get of the ${n} sandboxes, unpaged (median of ${samples})`, ms(median(kubectlTimes)), how);
      } catch (err) {
        // A consistent LIST the API server cannot finish under load is a figure too, not the end of the run.
        figure(`kubectl get of the ${n} sandboxes, unpaged`, `failed: ${(err as Error).message.split("\n")[0]!.slice(-160)}`, how);
      }
    }
    for (const mode of ["unpaged", "watch-cache", "paged-500"] as const) {
      const times: number[] = [];
      // A LIST the API server cuts short under load is tried again; the time is the one that succeeded.
      for (let i = 0; i < samples; i++) times.push((await retried(() => fixture.timeList(mode))).ms);
      if (mode === "unpaged") measures.unpagedListMs = median(times);
      if (mode === "watch-cache") measures.watchCacheListMs = median(times);
      const how = { unpaged: "GET …/sandboxes?labelSelector=…", "watch-cache": "GET …/sandboxes?labelSelector=…&resourceVersion=0", "paged-500": "GET …/sandboxes?labelSelector=…&limit=500 + continue" }[mode];
      figure(`one LIST of the ${n} sandboxes, ${mode} (median of ${samples})`, ms(median(times)), `${how}, driver identity`);
    }

    phase("start");
    const served = await start(kubeconfig);
    const timing = await waitUntilServed(served, n);
    result.servedCount = n;
    Object.assign(measures, { socketBoundMs: served.socketBoundMs, servedMs: timing.servedMs, unavailable: timing.unavailable });
    figure("start → socket bound", ms(served.socketBoundMs), "spawn → socket file exists (polled every 2 ms)");
    figure(`start → all ${n} served`, `${ms(timing.servedMs)} (${timing.unavailable} UNAVAILABLE, ${timing.partial} short answers before)`, "spawn → first ListSandboxes with all N, polled every 5 ms");
    await Bun.sleep(2000);
    const rssN = memoryMiB(served.proc.pid).rss;
    measures.rssSteadyMiB = rssN;
    figure(`driver RSS with ${n} sandboxes and their pods cached (steady)`, `${rssN.toFixed(1)} MiB`, "VmRSS 2 s after all are served, before load");
    figure("bytes per sandbox", `${(((rssN - rssEmpty) * 2 ** 20) / n / 1024).toFixed(1)} KiB`, `(RSS at ${n} − RSS at 0) / ${n}`);

    phase("load");
    // VmHWM is reset before each cell (clear_refs), so each row has its own peak; this is the run's.
    let highWater = 0;
    for (const op of OPS) {
      for (const inFlight of opts.inFlight) {
        for (const runLoad of [connectLoad, grpcioLoad]) {
          const highWaterBefore = memoryMiB(served.proc.pid).hwm;
          resetHighWater(served.proc.pid);
          const r = await runLoad({ socket: served.socket, op, inFlight, seconds: opts.seconds, ids, watchMessages: n, dir: scratch });
          const cellHighWater = memoryMiB(served.proc.pid).hwm;
          highWater = Math.max(highWater, highWaterBefore, cellHighWater);
          result.load.push(r);
          const errors = Object.entries(r.errors).map(([code, count]) => `${count} ${code}`).join(", ");
          figure(
            `${op} of ${n}, ${inFlight} in flight, ${r.client}`,
            `p50 ${ms(r.p50)}, p99 ${ms(r.p99)}, ${r.perSecond.toFixed(r.perSecond < 10 ? 1 : 0)}/s${errors ? `, errors: ${errors}` : ""}; RSS peak ${cellHighWater.toFixed(0)} MiB`,
            r.client === "connect" ? `Connect client in the bench process, ${opts.seconds} s` : `bench/load_client.py <socket> ${op} ${inFlight} ${opts.seconds} s`,
          );
        }
      }
    }
    const after = memoryMiB(served.proc.pid);
    highWater = Math.max(highWater, after.hwm);
    Object.assign(measures, { rssAfterLoadMiB: after.rss, hwmAfterLoadMiB: highWater });
    figure(`driver RSS with ${n} after the load`, `${after.rss.toFixed(1)} MiB (high-water ${highWater.toFixed(1)} MiB)`, "VmRSS after the load; VmHWM: the highest of every cell's peak and the start's");

    phase("writes");
    // The CR's name is the rendered one (the workspace's prefix and the sandbox name).
    const pool = ids.slice(-writePool(sizes)).map((id) => ({ id, name: fixture.kubeName(id, id.replace(/-id$/, "")) }));
    result.writes = await benchWrites({ socket: served.socket, raw: fixture.driver, namespace: NAMESPACE, gatewayId, pool, sizes, log });
    for (const c of result.writes.cells) {
      figure(
        `${c.op} of 1 of ${n}, ${c.inFlight} in flight: driver vs raw`,
        `p50 ${ms(c.driver.p50)} vs ${ms(c.rawTimes.p50)} (${(c.driver.p50 / c.rawTimes.p50).toFixed(2)}×), p99 ${ms(c.driver.p99)} vs ${ms(c.rawTimes.p99)}; ${c.driver.calls} calls each`,
        `${c.op.split(" ")[0]} from grpcio (bench/grpc_caller.py, timed there) vs ${c.raw}, driver identity, taking turns (call by call at 1 in flight, 16 calls a side at 16)`,
      );
    }
    const { idListMs, getMs } = result.writes;
    figure(
      `the API server's LIST of one id among ${n} (what each of these calls made before), p50 of 5`,
      `consistent ${ms(idListMs.consistent)}, watch cache (NotOlderThan) ${ms(idListMs.notOlderThan)}; GET by name ${ms(getMs)}`,
      "GET …/sandboxes?labelSelector=<gateway>,<id matching nothing> with no resourceVersion, then resourceVersion=<its>&resourceVersionMatch=NotOlderThan, then GET …/sandboxes/<name>",
    );
    const afterWrites = memoryMiB(served.proc.pid);
    figure(`driver RSS with ${n} after the writes`, `${afterWrites.rss.toFixed(1)} MiB (high-water since the load ${afterWrites.hwm.toFixed(1)} MiB)`, "VmRSS and VmHWM after the write cells");
  } catch (err) {
    // Said at once: the clean-up that follows can take minutes.
    log(`the run stopped: ${(err as Error).message}`);
    throw err;
  } finally {
    phase("cleanup");
    const started = performance.now();
    // A failure here is logged, not thrown: it must not hide the error that ended the run early.
    await cleanUp()
      .then((left) => {
        result.leftBehind = left;
        figure("clean-up: every sandbox and pod gone", `${((performance.now() - started) / 1000).toFixed(1)} s (${left.sandboxes} sandboxes, ${left.pods} pods left)`, "DELETE of each labelled sandbox, 32 in flight, driver identity; then LIST until none is left");
      })
      .catch((err) => console.error(`clean-up failed; delete what is left with: kubectl delete sandboxes,pvc -n ${NAMESPACE} -l ${fixture.selector}\n`, err));
    rmSync(scratch, { recursive: true, force: true });
  }
  return result;
}

if (import.meta.main) {
  const n = Number(process.argv[2] ?? 1000);
  if (!Number.isInteger(n) || n < 100) throw new Error("usage: bun run bench/real-cluster.ts N (N ≥ 100)");
  const result = await runClusterBench({
    sandboxes: n,
    seconds: Number(process.env.BENCH_SECONDS ?? 3),
    inFlight: (process.env.BENCH_IN_FLIGHT ?? "1,16,64").split(",").map(Number),
    createSamples: Math.min(100, Math.floor((n - 1) / 4)),
    stoppedFleet: process.env.BENCH_FLEET === "stopped",
    log: (line) => console.error(line),
  });
  const complete = CLUSTER_MEASURES.every((key) => result.measures[key] !== undefined);
  if (complete) {
    saveResult(`cluster-${n}`, {
      ...provenance(`just bench-cluster ${n}`),
      sandboxes: n,
      figures: result.figures,
      measures: result.measures as ClusterMeasures,
      load: result.load,
      ...(result.writes ? { writes: result.writes } : {}),
    });
  } else {
    console.error(`the run stopped before measuring everything; bench/results/cluster-${n}.json and BENCHMARKS.md left as they were`);
  }
  if (!complete || result.leftBehind.sandboxes !== 0 || result.leftBehind.pods !== 0) process.exit(1);
}

/** `run` once, however many times it is asked for (the end of the run, and a signal during it). */
function onceCleanUp<T>(run: () => Promise<T>): () => Promise<T> {
  let started: Promise<T> | undefined;
  return () => (started ??= run());
}
