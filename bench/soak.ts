// `just soak DURATION` (90s, 5m, 1h, 1h30m): the compiled driver on the local control plane under
// steady, bounded churn for DURATION, sampled once a minute into bench/results/soak.json and
// BENCHMARKS.md. Growth that a two-minute chaos run or a peak-measuring bench cannot see (RSS,
// heap, file descriptors, watch streams, event lag) shows up here as a slope per hour.
//
// The churn: SOAK_POOL slots (default 16, so at most that many sandboxes live at once on the
// shared cluster), each cycling create → stop → start → delete with a new id every time; Gets of a
// live sandbox every 250 ms and a List every 2 s; 8 WatchSandboxes streams, one of them closed
// together with its connection and reopened every minute, as a gateway that restarts would.
// The driver runs as a copy of dist/ (so a rebuild during the run does not touch it) with the
// least-privileged identity, its log under the run's scratch directory. SIGINT/SIGTERM end the
// run early and still save what was sampled. Everything it made is deleted by its gateway label.
// Env: SOAK_POOL, SOAK_DRIVER_BIN (another build); SOAK_KUBECONFIG and SOAK_ADMIN_KUBECONFIG (the
// driver's identity and an admin, for the shared claim) to run against another control plane.
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Subprocess } from "bun";
import { chmodSync, copyFileSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { codeName } from "../test/chaos/chaos-kit";
import { clusterState, driverKubeconfig } from "../test/support/cluster";
import { freePort } from "../test/support/driver-process";
import { DRIVER_BIN } from "../test/support/paths";
import { sandboxRequest, TEST_IMAGE } from "../test/support/requests";
import { ComputeDriver, type WatchSandboxesEvent } from "../src/gen/compute_driver_pb";
import { BenchSandboxes, kubeClientFor, NAMESPACE } from "./cluster-fixture";
import { memoryMiB } from "./driver-timing";
import { provenance, saveResult } from "./report";
import { quantile, type SoakResult, type SoakSample } from "./soak-report";

const WATCHES = 8;
/** The watch that is closed with its connection and reopened every minute; not used for lag. */
const RECONNECTING = 0;
const SAMPLE_MS = 60_000;
/** A write's event not seen on a steady watch this long after the write counts as missed. */
const MISSED_AFTER_MS = 60_000;
const WORKSPACE = "soak";

type DriverClient = Client<typeof ComputeDriver>;

/** "90s", "5m", "1h", "1h30m" → ms. */
export function parseDuration(text: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text.trim());
  if (!m || text.trim() === "") throw new Error(`duration "${text}" is not like 90s, 5m, 1h or 1h30m`);
  return ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000;
}

/** A client on a connection of its own, which `close` ends (as a gateway that goes away would). */
function ownConnection(socketPath: string): { client: DriverClient; close(): void } {
  let socket: Socket | undefined;
  const transport = createGrpcTransport({
    baseUrl: "http://localhost",
    nodeOptions: { createConnection: () => (socket = connect(socketPath)) },
  });
  return { client: createClient(ComputeDriver, transport), close: () => socket?.destroy() };
}

const sleep = (ms: number, stop: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    stop.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });
const between = (lo: number, hi: number) => lo + Math.random() * (hi - lo);

interface Probe {
  kind: "create" | "delete";
  sentAt: number;
  waiting: Set<number>;
}

class Soak {
  readonly stop = new AbortController();
  readonly live = new Set<string>();
  #calls: Record<string, number> = {};
  #errors: Record<string, number> = {};
  #lags: { kind: Probe["kind"]; ms: number }[] = [];
  #missed = 0;
  #listed = 0;
  readonly probes = new Map<string, Probe>();
  reconnects = 0;
  watchFailures = 0;

  constructor(
    readonly socket: string,
    readonly run: string,
    readonly fixture: BenchSandboxes,
  ) {}

  /** Runs one RPC, counting it and its failure code; true when it answered OK. */
  async call(op: string, run: () => Promise<unknown>): Promise<boolean> {
    this.#calls[op] = (this.#calls[op] ?? 0) + 1;
    try {
      await run();
      return true;
    } catch (err) {
      const key = `${op} ${codeName(ConnectError.from(err).code)}`;
      this.#errors[key] = (this.#errors[key] ?? 0) + 1;
      return false;
    }
  }

  probe(kind: Probe["kind"], id: string): void {
    const steady = new Set(Array.from({ length: WATCHES }, (_, i) => i).filter((i) => i !== RECONNECTING));
    this.probes.set(`${kind} ${id}`, { kind, sentAt: performance.now(), waiting: steady });
  }

  /** An event on watch `index`: the lag of every write it is the first sign of on that watch. */
  seen(index: number, ev: WatchSandboxesEvent): void {
    if (index === RECONNECTING) return;
    const now = performance.now();
    const settle = (key: string) => {
      const p = this.probes.get(key);
      if (!p || !p.waiting.delete(index)) return;
      this.#lags.push({ kind: p.kind, ms: now - p.sentAt });
      if (p.waiting.size === 0) this.probes.delete(key);
    };
    if (ev.payload.case === "sandbox") {
      const sandbox = ev.payload.value.sandbox;
      if (!sandbox) return;
      settle(`create ${sandbox.id}`);
      if (sandbox.status?.deleting) settle(`delete ${sandbox.id}`);
    } else if (ev.payload.case === "deleted") {
      settle(`delete ${ev.payload.value.sandboxId}`);
    }
  }

  /** One slot of the pool: create → stop → start → delete, a new id each cycle, until stopped. */
  async slot(index: number, client: DriverClient, staggerMs: number): Promise<void> {
    const stop = this.stop.signal;
    await sleep(staggerMs, stop);
    for (let generation = 0; !stop.aborted; generation++) {
      const name = `${this.run.slice(-6)}-${index}-${generation}`;
      const id = `${this.run}-${index}-${generation}`;
      this.probe("create", id);
      const created = await this.call("CreateSandbox", () => client.createSandbox({ sandbox: this.request(id, name) }));
      if (!created) {
        this.probes.delete(`create ${id}`);
        await sleep(5000, stop);
        continue;
      }
      this.live.add(id);
      await sleep(between(5000, 15_000), stop);
      if (stop.aborted) break;
      await this.call("StopSandbox", () => client.stopSandbox({ sandboxId: id }));
      await sleep(between(2000, 5000), stop);
      if (stop.aborted) break;
      await this.call("StartSandbox", () => client.startSandbox({ sandboxId: id }));
      await sleep(between(5000, 15_000), stop);
      if (stop.aborted) break;
      this.probe("delete", id);
      // Gets from now on would read NOT_FOUND as the deletion ends: the readers leave it alone.
      this.live.delete(id);
      if (!(await this.call("DeleteSandbox", () => client.deleteSandbox({ sandboxId: id })))) this.probes.delete(`delete ${id}`);
      // The slot is free once the sandbox is gone, so at most POOL are ever alive.
      for (let i = 0; i < 120 && !stop.aborted; i++) {
        const gone = await client.getSandbox({ sandboxId: id }).then(
          () => false,
          (err) => ConnectError.from(err).code === Code.NotFound,
        );
        this.#calls.GetSandbox = (this.#calls.GetSandbox ?? 0) + 1;
        if (gone) break;
        await sleep(1000, stop);
      }
      this.live.delete(id);
    }
  }

  request(id: string, name: string) {
    return sandboxRequest({
      id,
      name,
      workspace: WORKSPACE,
      spec: {
        template: {
          image: TEST_IMAGE,
          driverConfig: {
            volumes: [{ name: "soak-data", persistent_volume_claim: { claim_name: this.fixture.claim, read_only: false } }],
            containers: { agent: { volume_mounts: [{ name: "soak-data", mount_path: "/sandbox/data", read_only: false }] } },
          },
        },
      },
    });
  }

  /** Gets of a live sandbox every 250 ms and a List every 2 s, until stopped. */
  async readers(client: DriverClient): Promise<void> {
    const stop = this.stop.signal;
    for (let tick = 0; !stop.aborted; tick++) {
      const ids = [...this.live];
      const id = ids[Math.floor(Math.random() * ids.length)];
      if (id) await this.call("GetSandbox", () => client.getSandbox({ sandboxId: id }));
      if (tick % 8 === 0) await this.call("ListSandboxes", async () => (this.#listed = (await client.listSandboxes({})).sandboxes.length));
      await sleep(250, stop);
    }
  }

  /** Watch `index`, reopened whenever it ends; the reconnecting one is also closed every minute. */
  async watch(index: number): Promise<void> {
    const stop = this.stop.signal;
    while (!stop.aborted) {
      const connection = ownConnection(this.socket);
      const cancel = new AbortController();
      const onStop = () => cancel.abort();
      stop.addEventListener("abort", onStop, { once: true });
      const timer = index === RECONNECTING ? setTimeout(() => cancel.abort(), SAMPLE_MS) : undefined;
      this.#calls.WatchSandboxes = (this.#calls.WatchSandboxes ?? 0) + 1;
      try {
        for await (const ev of connection.client.watchSandboxes({}, { signal: cancel.signal })) this.seen(index, ev);
        this.watchFailures++;
      } catch (err) {
        if (!cancel.signal.aborted) {
          this.watchFailures++;
          const key = `WatchSandboxes ${codeName(ConnectError.from(err).code)}`;
          this.#errors[key] = (this.#errors[key] ?? 0) + 1;
        }
      } finally {
        clearTimeout(timer);
        stop.removeEventListener("abort", onStop);
        connection.close();
      }
      if (index === RECONNECTING && !stop.aborted) this.reconnects++;
      if (!cancel.signal.aborted) await sleep(1000, stop);
    }
  }

  /** The minute's churn figures; the counters start again. */
  takeMinute(): Pick<SoakSample, "lagP50Ms" | "lagMaxMs" | "createLagP50Ms" | "deleteLagP50Ms" | "lagSamples" | "listed" | "calls" | "errors" | "missedEvents"> {
    const now = performance.now();
    for (const [key, p] of this.probes) {
      if (now - p.sentAt < MISSED_AFTER_MS) continue;
      this.#missed += p.waiting.size;
      this.probes.delete(key);
    }
    const lags = this.#lags.map((l) => l.ms);
    const of = (kind: Probe["kind"]) => this.#lags.filter((l) => l.kind === kind).map((l) => l.ms);
    const out = {
      lagP50Ms: quantile(lags, 0.5),
      lagMaxMs: lags.length ? Math.max(...lags) : Number.NaN,
      createLagP50Ms: quantile(of("create"), 0.5),
      deleteLagP50Ms: quantile(of("delete"), 0.5),
      lagSamples: lags.length,
      listed: this.#listed,
      calls: this.#calls,
      errors: this.#errors,
      missedEvents: this.#missed,
    };
    this.#lags = [];
    this.#calls = {};
    this.#errors = {};
    this.#missed = 0;
    return out;
  }
}

/** The driver's own figures; NaN (a gap in the figure, not a zero) when /metrics does not answer in 10 s. */
async function metricsOf(port: number): Promise<{ heapUsedMiB: number; watchStreams: number }> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) }).then(
    (r) => r.text(),
    () => "",
  );
  const value = (name: string) => Number(new RegExp(`^openshell_driver_${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
  return { heapUsedMiB: value("nodejs_heap_size_used_bytes") / 2 ** 20, watchStreams: value("watch_streams") };
}

/**
 * Until /readyz answers 200. Generous: on a loaded shared machine the API server's watch cache can
 * fall seconds behind etcd, and a consistent list from it ("Too large resource version") waits.
 */
async function waitReady(proc: Subprocess, port: number): Promise<void> {
  const deadline = Date.now() + 600_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`the driver exited with ${proc.exitCode} before it was ready`);
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error("the driver was not ready after 600 s");
    await Bun.sleep(200);
  }
}

export async function runSoak(durationMs: number, pool: number, log: (line: string) => void): Promise<SoakResult> {
  const run = `soak-${Date.now().toString(36)}`;
  // The tree as it was when the binary was copied; `at` is set when the run ends.
  const built = provenance(`just soak ${process.argv[2]}`);
  const scratch = mkdtempSync(join(tmpdir(), "osdrv-soak-"));
  const binary = join(scratch, "openshell-driver-k8s");
  copyFileSync(process.env.SOAK_DRIVER_BIN ?? DRIVER_BIN, binary);
  chmodSync(binary, 0o755);
  // A copy: other runs rewrite the shared driver.kubeconfig with a new token while this one runs.
  const kubeconfig = join(scratch, "driver.kubeconfig");
  copyFileSync(process.env.SOAK_KUBECONFIG ?? driverKubeconfig(), kubeconfig);
  const fixture = await BenchSandboxes.open(run, run, kubeconfig);
  const admin = await kubeClientFor(process.env.SOAK_ADMIN_KUBECONFIG ?? clusterState().kubeconfig);
  const claims = `/api/v1/namespaces/${NAMESPACE}/persistentvolumeclaims`;
  await admin.request({
    verb: "create",
    path: claims,
    resource: "persistentvolumeclaims",
    namespace: NAMESPACE,
    body: { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: fixture.claim, namespace: NAMESPACE, labels: { "openshell.ai/gateway-id": run, "openshell.ai/sandbox-workspace": WORKSPACE } }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } },
  });
  const socket = join(scratch, "driver.sock");
  const healthPort = await freePort();
  const driverLog = join(scratch, "driver.log");
  const out = openSync(driverLog, "a");
  const proc = Bun.spawn(
    [binary, "serve", `--socket=${socket}`, `--kubeconfig=${kubeconfig}`, `--namespace=${NAMESPACE}`, `--gateway-id=${run}`, `--health-port=${healthPort}`, "--health-address=127.0.0.1", "--log-level=warn"],
    { stdin: "ignore", stdout: out, stderr: out },
  );
  log(`run ${run}: driver pid ${proc.pid}, log ${driverLog}`);
  const soak = new Soak(socket, run, fixture);
  const samples: SoakSample[] = [];
  let endedEarly: string | undefined;
  const onSignal = () => {
    endedEarly ??= "stopped by a signal";
    soak.stop.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const tasks: Promise<void>[] = [];
  try {
    await waitReady(proc, healthPort);
    for (let i = 0; i < WATCHES; i++) tasks.push(soak.watch(i));
    const writer = ownConnection(socket).client;
    for (let i = 0; i < pool; i++) tasks.push(soak.slot(i, writer, (i * 30_000) / pool));
    tasks.push(soak.readers(ownConnection(socket).client));
    const startedAt = performance.now();
    await Bun.sleep(2000);
    for (let minute = 0; ; minute++) {
      if (proc.exitCode !== null) {
        endedEarly = `the driver exited with ${proc.exitCode} (log: ${driverLog})`;
        break;
      }
      let sample: SoakSample;
      try {
        const metrics = await metricsOf(healthPort);
        sample = { minute, rssMiB: memoryMiB(proc.pid).rss, ...metrics, fds: readdirSync(`/proc/${proc.pid}/fd`).length, ...soak.takeMinute() };
      } catch (err) {
        // /proc/PID is gone: the driver exited between the check above and here.
        endedEarly = `the driver could not be sampled (exit code ${proc.exitCode}): ${(err as Error).message} (log: ${driverLog})`;
        break;
      }
      samples.push(sample);
      log(JSON.stringify(sample));
      const next = startedAt + (minute + 1) * SAMPLE_MS;
      if (soak.stop.signal.aborted || next > startedAt + durationMs + 1000) break;
      await sleep(next - performance.now(), soak.stop.signal);
      if (soak.stop.signal.aborted) break;
    }
  } finally {
    soak.stop.abort();
    // A StopSandbox in flight may wait for its pod; the clean-up below deletes what is left anyway.
    await Promise.race([Promise.all(tasks), Bun.sleep(30_000)]);
    const left = await fixture.deleteSandboxes(300_000).catch((err) => {
      log(`clean-up failed; delete what is left with: kubectl delete sandboxes,pvc -n ${NAMESPACE} -l ${fixture.selector}: ${err}`);
      return undefined;
    });
    if (left) log(`clean-up: ${left.sandboxes} sandboxes and ${left.pods} pods left`);
    await admin
      .request({ verb: "delete", path: `${claims}/${fixture.claim}`, resource: "persistentvolumeclaims", namespace: NAMESPACE, name: fixture.claim })
      .catch((err) => log(`the claim ${fixture.claim} was not deleted: ${err}`));
    if (proc.exitCode === null) proc.kill("SIGTERM");
    await proc.exited;
    rmSync(binary, { force: true });
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  const last = readFileSync(driverLog, "utf8").trim().split("\n").filter(Boolean);
  log(`driver log: ${last.length} lines (${driverLog})`);
  return {
    ...built,
    at: new Date().toISOString().slice(0, 16) + "Z",
    minutes: samples.at(-1)?.minute ?? 0,
    pool,
    watches: WATCHES,
    samples,
    reconnects: soak.reconnects,
    watchFailures: soak.watchFailures,
    ...(endedEarly ? { endedEarly } : {}),
  };
}

if (import.meta.main) {
  const durationMs = parseDuration(process.argv[2] ?? "");
  const pool = Number(process.env.SOAK_POOL ?? 16);
  if (!Number.isInteger(pool) || pool < 1 || pool > 50) throw new Error("SOAK_POOL is 1..50: the cluster is shared");
  const result = await runSoak(durationMs, pool, (line) => console.error(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}`));
  saveResult("soak", result);
  // The clients' HTTP/2 sessions would keep the process alive.
  process.exit(result.endedEarly ? 1 : 0);
}
