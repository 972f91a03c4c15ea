// Issue 17's figures: StopSandbox, StartSandbox and DeleteSandbox through the driver against the
// raw write of the same kind of CR as the driver's identity, and a GetSandbox miss against a raw
// GET, at 1 and 16 in flight, with the LIST of one id the driver used to make before every such
// call timed beside them (the API server's own cost of walking the fleet for one id).
// Driver and raw calls take turns (call by call at 1 in flight, 16 calls a side at 16), the side
// that goes first alternating, on different sandboxes of the bench's fleet.
// The driver's calls come from a C-core gRPC client (grpc-caller.ts), as the gateway's come from
// a compiled one; the raw requests from the driver's own Kubernetes client.
import type { KubeClient } from "../src/kube";
import { DeleteSandboxRequestSchema, GetSandboxRequestSchema, StartSandboxRequestSchema, StopSandboxRequestSchema } from "../src/gen/compute_driver_pb";
import { GrpcioCaller } from "./grpc-caller";
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

/** One call, resolving to its time in ms as its client measured it. */
type Timed = () => Promise<number>;

/**
 * Driver and raw calls in turns of `inFlight` pairs: one side's calls of a turn all at once, then
 * the other's, the side that goes first alternating turn by turn. At 1 in flight that is call by
 * call; at 16 each side is timed under its own 16 requests, not the other's (a Get miss's LISTs
 * would slow the raw GETs beside them).
 */
async function turns(pairs: [driver: Timed, raw: Timed][], inFlight: number): Promise<{ driver: number[]; raw: number[] }> {
  const times = { driver: [] as number[], raw: [] as number[] };
  for (let turn = 0; turn * inFlight < pairs.length; turn++) {
    const group = pairs.slice(turn * inFlight, (turn + 1) * inFlight);
    for (const side of turn % 2 === 0 ? (["driver", "raw"] as const) : (["raw", "driver"] as const)) {
      times[side].push(...(await Promise.all(group.map(([driver, raw]) => (side === "driver" ? driver : raw)()))));
    }
  }
  return times;
}

/** An in-process call's value and time in ms. */
async function timeOne<T>(call: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await call();
  return { value, ms: performance.now() - t };
}

/** The time of an in-process call. */
const clocked = (call: () => Promise<unknown>): Timed => async () => (await timeOne(call)).ms;

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
  const caller = new GrpcioCaller(spec.socket);
  try {
    return await measure(spec, caller);
  } finally {
    await caller.close();
  }
}

async function measure(spec: WriteBenchSpec, caller: GrpcioCaller): Promise<WriteBenchResult> {
  const { raw, namespace, log } = spec;
  const pool = new Pool(spec.pool);
  const base = SANDBOXES(namespace);
  const cells: WriteCell[] = [];
  const cell = (op: WriteOp, inFlight: number, rawWhat: string, times: { driver: number[]; raw: number[] }) => {
    const c = { op, inFlight, raw: rawWhat, driver: summary(times.driver), rawTimes: summary(times.raw) };
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
  const stop = (sandboxId: string): Timed => () => caller.call("StopSandbox", StopSandboxRequestSchema, { sandboxId });
  const start = (sandboxId: string): Timed => () => caller.call("StartSandbox", StartSandboxRequestSchema, { sandboxId });
  const pairsOf = (viaDriver: { id: string; name: string }[], viaRaw: { id: string; name: string }[], driver: (id: string) => Timed, raw: (name: string) => Timed) =>
    viaDriver.map((s, i): [Timed, Timed] => [driver(s.id), raw(viaRaw[i]!.name)]);
  /**
   * The same pairs `spec.sizes.rounds` times over, as one run of turns, so who goes first keeps
   * alternating from round to round (at the full sizes each round is whole turns).
   */
  const rounds = (pairs: [Timed, Timed][]) => Array.from({ length: spec.sizes.rounds }, () => pairs).flat();

  for (const inFlight of [1, 16]) {
    const n = inFlight === 1 ? spec.sizes.stop1 : spec.sizes.stop16;
    const [viaDriver, viaRaw] = [pool.take(n), pool.take(n)];
    // Running → stopped: the call waits for the controller to delete the pod and report Suspended.
    cell(
      "StopSandbox (running → stopped)",
      inFlight,
      "PATCH operatingMode=Suspended, then GET the CR and its pod on the driver's poll schedule until Suspended=True and the pod is gone",
      await turns(pairsOf(viaDriver, viaRaw, stop, (name) => clocked(() => rawStop(name))), inFlight),
    );
    // Stopped already: what each Stop costs beyond the controller's work.
    const stopAgain = pairsOf(viaDriver, viaRaw, stop, (name) => clocked(() => patch(name, "Suspended")));
    cell("StopSandbox (already stopped)", inFlight, "PATCH operatingMode=Suspended of the same CR", await turns(rounds(stopAgain), inFlight));
    // The first round starts stopped sandboxes (the controller makes their pods), the rest find them started.
    const startPairs = pairsOf(viaDriver, viaRaw, start, (name) => clocked(() => patch(name, "Running")));
    cell("StartSandbox", inFlight, "PATCH operatingMode=Running of the same CR", await turns(rounds(startPairs), inFlight));
  }

  for (const inFlight of [1, 16]) {
    const n = inFlight === 1 ? spec.sizes.delete1 : spec.sizes.delete16;
    const [viaDriver, viaRaw] = [pool.take(n), pool.take(n)];
    const rawDelete = (name: string) =>
      clocked(() => raw.request({ verb: "delete", path: `${base}/${name}`, body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Background" }, resource: "sandboxes", namespace, name }));
    const driverDelete = (sandboxId: string): Timed => () => caller.call("DeleteSandbox", DeleteSandboxRequestSchema, { sandboxId });
    cell("DeleteSandbox", inFlight, "DELETE of the same kind of CR by name", await turns(pairsOf(viaDriver, viaRaw, driverDelete, rawDelete), inFlight));
  }

  const present = spec.pool.at(-1)!.name;
  let missId = 0;
  for (const inFlight of [1, 16]) {
    const calls = inFlight === 1 ? spec.sizes.getRounds1 : spec.sizes.getRounds16 * inFlight;
    const pairs = Array.from({ length: calls }, (): [Timed, Timed] => [
      () => caller.call("GetSandbox", GetSandboxRequestSchema, { sandboxId: `${spec.gatewayId}-missing-${missId++}` }, "NOT_FOUND"),
      clocked(() => get(present)),
    ]);
    cell("GetSandbox miss", inFlight, "GET of one sandbox by name", await turns(pairs, inFlight));
  }

  // The API server's own time for the LIST of one id the driver made before each of these calls.
  const selector = `openshell.ai/managed-by=openshell,openshell.ai/gateway-id=${spec.gatewayId},openshell.ai/sandbox-id=${spec.gatewayId}-nothing`;
  const list = (query: Record<string, string>) => raw.request<{ metadata: { resourceVersion: string } }>({ verb: "list", path: base, query: { labelSelector: selector, ...query }, resource: "sandboxes", namespace });
  const consistent: number[] = [];
  const notOlderThan: number[] = [];
  const gets: number[] = [];
  // The time of the attempt that answered: a loaded API server may cut a LIST short.
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
  /** Rounds of "already stopped" Stops and of Starts over the stopped sandboxes. */
  rounds: number;
  delete1: number;
  delete16: number;
  getRounds1: number;
  getRounds16: number;
}

/** The full cells, and a few calls each for the e2e smoke run of the bench (a fleet of 100). */
export function writeSizes(sandboxes: number): WriteSizes {
  if (sandboxes >= 1000) return { stop1: 8, stop16: 16, rounds: 5, delete1: 20, delete16: 32, getRounds1: 100, getRounds16: 10 };
  return { stop1: 2, stop16: 4, rounds: 2, delete1: 3, delete16: 4, getRounds1: 5, getRounds16: 2 };
}

/** How many of the fleet's sandboxes benchWrites uses: each side's, and one that stays for the raw GET. */
export function writePool(sizes: WriteSizes): number {
  return 2 * (sizes.stop1 + sizes.stop16) + 2 * (sizes.delete1 + sizes.delete16) + 1;
}
