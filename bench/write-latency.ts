// Issue 17's figures: StopSandbox, StartSandbox and DeleteSandbox through the driver against the
// raw write of the same kind of CR as the driver's identity, and a GetSandbox miss against a raw
// GET, at 1 and 16 in flight, with the LIST of one id the driver used to make before every such
// call timed beside them (the API server's own cost of walking the fleet for one id).
// Driver and raw calls take turns (one each at 1 in flight, one batch each at 16) on different
// sandboxes of the bench's fleet, so both see the same cluster.
import type { KubeClient } from "../src/kube";
import { connectClient } from "../test/support/clients";
import { retried } from "./retried";

const SANDBOXES = (namespace: string) => `/apis/agents.x-k8s.io/v1beta1/namespaces/${namespace}/sandboxes`;
const PODS = (namespace: string) => `/api/v1/namespaces/${namespace}/pods`;

export type WriteOp = "StopSandbox (already stopped)" | "StopSandbox (running → stopped)" | "StartSandbox" | "DeleteSandbox" | "GetSandbox miss";

export interface WriteCell {
  op: WriteOp;
  inFlight: number;
  /** What the driver's call is compared with. */
  raw: string;
  driver: { p50: number; p99: number; calls: number };
  rawTimes: { p50: number; p99: number; calls: number };
}

export interface WriteBenchResult {
  cells: WriteCell[];
  /** ms of the label-selected LIST of one id (matching nothing), consistent and from the watch cache. */
  idListMs: { consistent: number; notOlderThan: number };
  /** ms of a raw GET of one sandbox by name. */
  getMs: number;
}

export interface WriteBenchSpec {
  socket: string;
  raw: KubeClient;
  namespace: string;
  gatewayId: string;
  /** Bulk sandboxes (running, with pods) the bench may stop, start and delete: names and ids alike. */
  pool: { id: string; name: string }[];
  sizes: WriteSizes;
  log: (line: string) => void;
}

const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
const summary = (xs: number[]) => ({ p50: percentile(xs, 50), p99: percentile(xs, 99), calls: xs.length });

async function timed(calls: (() => Promise<unknown>)[], inFlight: number): Promise<number[]> {
  const times: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < calls.length) {
      const call = calls[next++]!;
      const t = performance.now();
      await call();
      times.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return times;
}

/** The pool's sandboxes, handed out once each. */
class Pool {
  #next = 0;
  constructor(private readonly items: { id: string; name: string }[]) {}
  take(n: number): { id: string; name: string }[] {
    if (this.#next + n > this.items.length) throw new Error(`the bench's write pool of ${this.items.length} sandboxes ran out`);
    const out = this.items.slice(this.#next, this.#next + n);
    this.#next += n;
    return out;
  }
}

export async function benchWrites(spec: WriteBenchSpec): Promise<WriteBenchResult> {
  const { raw, namespace, log } = spec;
  const client = connectClient(spec.socket);
  const pool = new Pool(spec.pool);
  const base = SANDBOXES(namespace);
  const cells: WriteCell[] = [];
  const cell = (op: WriteOp, inFlight: number, rawWhat: string, driver: number[], rawTimes: number[]) => {
    const c = { op, inFlight, raw: rawWhat, driver: summary(driver), rawTimes: summary(rawTimes) };
    cells.push(c);
    log(`${op}, ${inFlight} in flight: driver p50 ${c.driver.p50.toFixed(1)} ms p99 ${c.driver.p99.toFixed(1)} ms vs raw p50 ${c.rawTimes.p50.toFixed(1)} ms p99 ${c.rawTimes.p99.toFixed(1)} ms`);
  };
  const patch = (name: string, operatingMode: "Running" | "Suspended") =>
    raw.request({ verb: "patch", patchType: "merge", path: `${base}/${name}`, body: { spec: { operatingMode } }, resource: "sandboxes", namespace, name });
  const get = (name: string) => raw.request<any>({ verb: "get", path: `${base}/${name}`, resource: "sandboxes", namespace, name });
  const podGone = async (name: string) => {
    try {
      await raw.request({ verb: "get", path: `${PODS(namespace)}/${name}`, resource: "pods", namespace, name });
      return false;
    } catch {
      return true;
    }
  };
  /** The raw client's stop: PATCH, then the driver's own wait (same poll schedule) for Suspended=True and no pod. */
  const rawStop = async (name: string) => {
    let cr = await patch(name, "Suspended");
    for (let wait = 250; ; wait = Math.min(wait * 2, 2000)) {
      const suspended = (cr as any).status?.conditions?.some((c: any) => c.type === "Suspended" && c.status === "True");
      if (suspended && (await podGone(name))) return;
      await Bun.sleep(wait);
      cr = await get(name);
    }
  };
  const stopSignal = () => AbortSignal.timeout(300_000);

  for (const inFlight of [1, 16]) {
    const n = inFlight === 1 ? spec.sizes.stop1 : spec.sizes.stop16;
    const [viaDriver, viaRaw] = [pool.take(n), pool.take(n)];
    // Running → stopped: the call waits for the controller to delete the pod and report Suspended.
    let d = await timed(viaDriver.map((s) => () => client.stopSandbox({ sandboxId: s.id })), inFlight);
    let r = await timed(viaRaw.map((s) => () => rawStop(s.name)), inFlight);
    cell("StopSandbox (running → stopped)", inFlight, "PATCH operatingMode=Suspended, then GET the CR and its pod on the driver's poll schedule until Suspended=True and the pod is gone", d, r);
    // Stopped already: what each Stop costs beyond the controller's work. Three rounds each.
    d = [];
    r = [];
    for (let round = 0; round < 3; round++) {
      d.push(...(await timed(viaDriver.map((s) => () => client.stopSandbox({ sandboxId: s.id }, { signal: stopSignal() })), inFlight)));
      r.push(...(await timed(viaRaw.map((s) => () => patch(s.name, "Suspended")), inFlight)));
    }
    cell("StopSandbox (already stopped)", inFlight, "PATCH operatingMode=Suspended of the same CR", d, r);
    d = [];
    r = [];
    for (let round = 0; round < 3; round++) {
      d.push(...(await timed(viaDriver.map((s) => () => client.startSandbox({ sandboxId: s.id })), inFlight)));
      r.push(...(await timed(viaRaw.map((s) => () => patch(s.name, "Running")), inFlight)));
    }
    cell("StartSandbox", inFlight, "PATCH operatingMode=Running of the same CR", d, r);
  }

  for (const inFlight of [1, 16]) {
    const n = inFlight === 1 ? spec.sizes.delete1 : spec.sizes.delete16;
    const [viaDriver, viaRaw] = [pool.take(n), pool.take(n)];
    const d = await timed(viaDriver.map((s) => () => client.deleteSandbox({ sandboxId: s.id })), inFlight);
    const r = await timed(
      viaRaw.map((s) => () => raw.request({ verb: "delete", path: `${base}/${s.name}`, body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Background" }, resource: "sandboxes", namespace, name: s.name })),
      inFlight,
    );
    cell("DeleteSandbox", inFlight, "DELETE of the same kind of CR by name", d, r);
  }

  const present = spec.pool.at(-1)!.name;
  let missId = 0;
  for (const inFlight of [1, 16]) {
    const rounds = inFlight === 1 ? spec.sizes.getRounds1 : spec.sizes.getRounds16;
    const d: number[] = [];
    const r: number[] = [];
    for (let round = 0; round < rounds; round++) {
      d.push(
        ...(await timed(
          Array.from({ length: inFlight }, () => () => client.getSandbox({ sandboxId: `${spec.gatewayId}-missing-${missId++}` }).then(
            () => {
              throw new Error("a missing id was found");
            },
            (err: { code?: number }) => {
              if (err.code !== 5) throw err;
            },
          )),
          inFlight,
        )),
      );
      r.push(...(await timed(Array.from({ length: inFlight }, () => () => get(present)), inFlight)));
    }
    cell("GetSandbox miss", inFlight, "GET of one sandbox by name", d, r);
  }

  // The API server's own time for the LIST of one id the driver made before each of these calls.
  const selector = `openshell.ai/managed-by=openshell,openshell.ai/gateway-id=${spec.gatewayId},openshell.ai/sandbox-id=${spec.gatewayId}-nothing`;
  const list = (query: Record<string, string>) => raw.request<{ metadata: { resourceVersion: string } }>({ verb: "list", path: base, query: { labelSelector: selector, ...query }, resource: "sandboxes", namespace });
  const consistent: number[] = [];
  const notOlderThan: number[] = [];
  const gets: number[] = [];
  // The time of the attempt that answered: a loaded API server may cut a LIST short.
  const timeOne = async <T>(call: () => Promise<T>) => {
    const t = performance.now();
    const value = await call();
    return { value, ms: performance.now() - t };
  };
  // Five: on a loaded machine a consistent LIST can take its full 60 s.
  for (let i = 0; i < 5; i++) {
    consistent.push((await retried(() => timeOne(() => list({})))).ms);
    // The driver reads no older than a version its watch delivered, which the API server's watch
    // cache has reached. Not the consistent LIST's: before 1.31 that is etcd's revision, moved by
    // writes to every resource, which a watch cache of Sandboxes no one is changing may not reach
    // within the API server's 3 s wait (504 "Too large resource version", seen on 1.30).
    const resourceVersion = (await list({ resourceVersion: "0" })).metadata.resourceVersion;
    notOlderThan.push((await retried(() => timeOne(() => list({ resourceVersion, resourceVersionMatch: "NotOlderThan" })))).ms);
    gets.push((await retried(() => timeOne(() => get(present)))).ms);
  }
  const result = { cells, idListMs: { consistent: percentile(consistent, 50), notOlderThan: percentile(notOlderThan, 50) }, getMs: percentile(gets, 50) };
  log(`LIST of one id: consistent p50 ${result.idListMs.consistent.toFixed(1)} ms, NotOlderThan p50 ${result.idListMs.notOlderThan.toFixed(1)} ms; GET by name p50 ${result.getMs.toFixed(1)} ms`);
  return result;
}

/** Sandboxes each side stops (then starts) and deletes, at 1 and 16 in flight, and rounds of Get misses. */
export interface WriteSizes {
  stop1: number;
  stop16: number;
  delete1: number;
  delete16: number;
  getRounds1: number;
  getRounds16: number;
}

/** The full cells, and a few calls each for the e2e smoke run of the bench (a fleet of 100). */
export function writeSizes(sandboxes: number): WriteSizes {
  if (sandboxes >= 1000) return { stop1: 8, stop16: 16, delete1: 20, delete16: 32, getRounds1: 100, getRounds16: 10 };
  return { stop1: 2, stop16: 4, delete1: 3, delete16: 4, getRounds1: 5, getRounds16: 2 };
}

/** How many of the fleet's sandboxes benchWrites uses: each side's, and one that stays for the raw GET. */
export function writePool(sizes: WriteSizes): number {
  return 2 * (sizes.stop1 + sizes.stop16) + 2 * (sizes.delete1 + sizes.delete16) + 1;
}
