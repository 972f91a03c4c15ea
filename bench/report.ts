// BENCHMARKS.md, made from the results every bench command keeps in bench/results/ (one JSON
// file per command and size), so a run of one command refreshes its own figures and leaves the
// others as they were. The targets table compares the real-cluster figures with issue 10's
// targets; the reasons for a miss are written by hand between the WHY markers and kept as they are.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { REPO } from "../test/support/paths";
import type { LoadResult } from "./load";
import type { WriteBenchResult, WriteOp } from "./write-latency";
import { soakSection, type SoakResult } from "./soak-report";

const RESULTS = join(REPO, "bench", "results");
const BENCHMARKS = join(REPO, "BENCHMARKS.md");
const WHY_BEGIN = "<!-- why: written by hand, kept by bench/report.ts -->";
const WHY_END = "<!-- why: end -->";

export interface Provenance {
  command: string;
  /** ISO time the run ended. */
  at: string;
  machine: string;
  /** The commit the driver was built from, "+dirty" when the tree had changes. */
  commit: string;
}

export interface Figure {
  what: string;
  value: string;
  how: string;
}

/** The numbers the targets are judged by, from one real-cluster run. */
export const CLUSTER_MEASURES = [
  "rssIdleMiB",
  "rssEmptyMiB",
  "createDriverMs",
  "createPostMs",
  "unpagedListMs",
  "watchCacheListMs",
  "socketBoundMs",
  "servedMs",
  "unavailable",
  "rssSteadyMiB",
  "rssAfterLoadMiB",
  "hwmAfterLoadMiB",
] as const;
export type ClusterMeasures = Record<(typeof CLUSTER_MEASURES)[number], number>;

export interface ClusterResult extends Provenance {
  sandboxes: number;
  figures: Figure[];
  measures: ClusterMeasures;
  load: LoadResult[];
  /** Issue 17's write cells; runs before it have none. */
  writes?: WriteBenchResult;
}

export interface TableResult extends Provenance {
  /** Rows of `what | measured`. */
  rows: { what: string; value: string }[];
  notes: string;
}

export function provenance(command: string): Provenance {
  const git = (args: string[]) => Bun.spawnSync(["git", ...args], { cwd: REPO, stdout: "pipe" }).stdout.toString().trim();
  // What the bench writes itself does not make the driver's tree dirty.
  const dirty = git(["status", "--porcelain", "--untracked-files=no", "--", ".", ":!BENCHMARKS.md", ":!bench/results"]) !== "";
  return {
    command,
    at: new Date().toISOString().slice(0, 16) + "Z",
    machine: `${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Bun ${Bun.version}`,
    commit: git(["rev-parse", "--short", "HEAD"]) + (dirty ? "+dirty" : ""),
  };
}

/** Keeps `result` as bench/results/NAME.json and writes BENCHMARKS.md anew from every result there. */
export function saveResult(name: string, result: ClusterResult | TableResult | SoakResult): void {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, `${name}.json`), `${JSON.stringify(result, null, 1)}\n`);
  writeFileSync(BENCHMARKS, renderBenchmarks());
  console.error(`wrote bench/results/${name}.json and BENCHMARKS.md`);
}

function read<T>(name: string): T | undefined {
  const path = join(RESULTS, `${name}.json`);
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as T) : undefined;
}

const ms = (x: number) => (x < 10 ? `${x.toFixed(2)} ms` : `${x.toFixed(0)} ms`);
const mib = (x: number) => `${x.toFixed(0)} MiB`;

interface Target {
  what: string;
  /** The figure in one run, or undefined when that run did not measure it. */
  value: (r: ClusterResult) => number | undefined;
  limit: (r: ClusterResult) => number;
  show: (x: number) => string;
  how: string;
  /** What the limit was in that run, when it is itself measured. */
  limitShown?: (r: ClusterResult) => string;
}

const load = (op: LoadResult["op"], client: LoadResult["client"], inFlight: number, field: "p50" | "p99") => (r: ClusterResult) => {
  const cell = r.load.find((l) => l.op === op && l.client === client && l.inFlight === inFlight && l.calls > 0);
  return cell?.[field];
};

const TARGETS: Target[] = [
  { what: "ListSandboxes p50 ≤ 10 ms (grpcio, 1 in flight)", value: load("ListSandboxes", "grpcio", 1, "p50"), limit: () => 10, show: ms, how: "bench/load_client.py ListSandboxes 1" },
  { what: "ListSandboxes p50 ≤ 10 ms (Connect, 1 in flight)", value: load("ListSandboxes", "connect", 1, "p50"), limit: () => 10, show: ms, how: "Connect client, decodes every sandbox" },
  { what: "full watch state ≤ 100 ms (grpcio, p50)", value: load("WatchSandboxes", "grpcio", 1, "p50"), limit: () => 100, show: ms, how: "open WatchSandboxes, read N messages, cancel" },
  { what: "GetSandbox p99 ≤ 5 ms at 64 in flight (grpcio)", value: load("GetSandbox", "grpcio", 64, "p99"), limit: () => 5, show: ms, how: "bench/load_client.py GetSandbox 64" },
  { what: "GetSandbox p99 ≤ 5 ms at 64 in flight (Connect)", value: load("GetSandbox", "connect", 64, "p99"), limit: () => 5, show: ms, how: "Connect client, 64 in flight" },
  { what: "start → all served ≤ one unpaged LIST", value: (r) => r.measures.servedMs, limit: (r) => r.measures.unpagedListMs, show: ms, how: "spawn → first complete ListSandboxes vs GET …/sandboxes unpaged", limitShown: (r) => `LIST ${ms(r.measures.unpagedListMs)}` },
  { what: "no UNAVAILABLE read while starting", value: (r) => r.measures.unavailable, limit: () => 0, show: (x) => String(x), how: "ListSandboxes every 5 ms from spawn" },
  { what: "RSS steady ≤ 160 MiB", value: (r) => r.measures.rssSteadyMiB, limit: () => 160, show: mib, how: "VmRSS 2 s after all are served" },
  { what: "RSS high-water ≤ 250 MiB", value: (r) => r.measures.hwmAfterLoadMiB, limit: () => 250, show: mib, how: "the highest VmHWM: start, and each load cell" },
  { what: "RSS idle ≤ 50 MiB", value: (r) => r.measures.rssIdleMiB, limit: () => 50, show: mib, how: "VmRSS 1 s after the socket is bound, no cluster" },
  { what: "CreateSandbox ≤ 1.1× a raw POST (p50)", value: (r) => r.measures.createDriverMs / r.measures.createPostMs, limit: () => 1.1, show: (x) => `${x.toFixed(2)}×`, how: "alternating CreateSandbox and POST of the same CR" },
];

/** Issue 17: each write by id, and a Get miss, within 1.2× the raw request of the same CR (p50, same run). */
const WRITE_TARGETS: { op: WriteOp; inFlight: number }[] = [
  { op: "StopSandbox (already stopped)", inFlight: 1 },
  { op: "StopSandbox (already stopped)", inFlight: 16 },
  { op: "StopSandbox (running → stopped)", inFlight: 1 },
  { op: "StopSandbox (running → stopped)", inFlight: 16 },
  { op: "StartSandbox", inFlight: 1 },
  { op: "StartSandbox", inFlight: 16 },
  { op: "DeleteSandbox", inFlight: 1 },
  { op: "DeleteSandbox", inFlight: 16 },
  { op: "GetSandbox miss", inFlight: 1 },
  { op: "GetSandbox miss", inFlight: 16 },
];

function writeJudged(op: WriteOp, inFlight: number, r: ClusterResult | undefined): string {
  if (!r) return "not run";
  const c = r.writes?.cells.find((x) => x.op === op && x.inFlight === inFlight);
  if (!c) return "not measured";
  const ratio = c.driver.p50 / c.rawTimes.p50;
  const text = `${ms(c.driver.p50)} vs ${ms(c.rawTimes.p50)} (${ratio.toFixed(2)}×)`;
  return ratio <= 1.2 ? `${text} ✓` : `**${text}** ✗`;
}

function writeTargets(runs: ClusterResult[]): string {
  const sizes = [1000, 10000, 50000];
  const bySize = sizes.map((n) => runs.find((r) => r.sandboxes === n));
  const header = `| p50 ≤ 1.2× the raw request (same run) | ${sizes.map((n) => n.toLocaleString("en")).join(" | ")} |\n|---|${sizes.map(() => "---").join("|")}|`;
  const rows = WRITE_TARGETS.map(({ op, inFlight }) => `| ${op}, ${inFlight} in flight | ${bySize.map((r) => writeJudged(op, inFlight, r)).join(" | ")} |`);
  const lists = `| the API server's LIST of one id (before: every call above made one) | ${bySize
    .map((r) => (r?.writes ? `consistent ${ms(r.writes.idListMs.consistent)}, watch cache ${ms(r.writes.idListMs.notOlderThan)}, GET ${ms(r.writes.getMs)}` : "not measured"))
    .join(" | ")} |`;
  const rss = `| driver RSS steady / high-water | ${bySize.map((r) => (r ? `${mib(r.measures.rssSteadyMiB)} / ${mib(r.measures.hwmAfterLoadMiB)}` : "not run")).join(" | ")} |`;
  return [header, ...rows, lists, rss].join("\n");
}

function judged(t: Target, r: ClusterResult | undefined): string {
  if (!r) return "not run";
  const value = t.value(r);
  if (value === undefined) return "not measured";
  const limit = t.limit(r);
  const against = t.limitShown ? ` vs ${t.limitShown(r)}` : "";
  if (value <= limit) return `${t.show(value)}${against} ✓`;
  const miss = limit === 0 ? "" : ` (${(value / limit).toFixed(1)}× the target)`;
  return `**${t.show(value)}**${against} ✗${miss}`;
}

function growth(t: Target, small: ClusterResult | undefined, large: ClusterResult | undefined): string {
  const a = small && t.value(small);
  const b = large && t.value(large);
  if (a === undefined || b === undefined || a === 0) return "";
  return `${(b / a).toFixed(1)}×`;
}

function clusterSection(r: ClusterResult): string {
  const rows = r.figures.map((f) => `| ${f.what} | ${f.value} | ${f.how} |`).join("\n");
  return `## Real control plane, ${r.sandboxes.toLocaleString("en")} sandboxes

\`${r.command}\` at ${r.at}, driver built from ${r.commit}; ${r.machine}.

| what | measured | how |
|---|---|---|
${rows}
`;
}

function tableSection(title: string, r: TableResult): string {
  return `## ${title}

\`${r.command}\` at ${r.at}, driver built from ${r.commit}; ${r.machine}. ${r.notes}

| what | measured |
|---|---|
${r.rows.map((row) => `| ${row.what} | ${row.value} |`).join("\n")}
`;
}

function keptWhy(): string {
  const current = existsSync(BENCHMARKS) ? readFileSync(BENCHMARKS, "utf8") : "";
  const begin = current.indexOf(WHY_BEGIN);
  const end = current.indexOf(WHY_END);
  if (begin >= 0 && end > begin) return current.slice(begin, end + WHY_END.length);
  return `${WHY_BEGIN}\n(no notes yet)\n${WHY_END}`;
}

export function renderBenchmarks(): string {
  const clusterRuns = (existsSync(RESULTS) ? readdirSync(RESULTS) : [])
    .filter((f) => /^cluster-\d+\.json$/.test(f))
    .map((f) => read<ClusterResult>(f.replace(/\.json$/, ""))!)
    .sort((a, b) => a.sandboxes - b.sandboxes);
  const small = clusterRuns.find((r) => r.sandboxes === 1000);
  const large = clusterRuns.find((r) => r.sandboxes === 10000);
  const targets = TARGETS.map((t) => `| ${t.what} | ${judged(t, small)} | ${judged(t, large)} | ${growth(t, small, large)} | ${t.how} |`).join("\n");
  const synthetic = read<TableResult>("synthetic");
  const idle = read<TableResult>("idle");
  const soak = read<SoakResult>("soak");
  return `# Benchmarks

Written by \`bench/report.ts\` from \`bench/results/*.json\`; each section names the command that
measured it (\`just bench-cluster 1000\`, \`just bench-cluster 10000\`, \`just bench\`,
\`just bench-idle\`, \`just soak 1h\`), and running one refreshes its section only. Latencies are wall-clock on this
2-core machine, with the local control plane (kube-apiserver, etcd, controllers, kwok) on the
same cores, and only comparable between runs here.

## Targets at 1,000 and 10,000 sandboxes (issue 10)

The targets are for 10,000 sandboxes; the 1,000 column shows how each figure grows. grpcio
(\`bench/load_client.py\`, C-core, replies kept as bytes) measures the driver and the socket; the
Connect client runs in the bench process and decodes every reply, so its figures include that.

| target | 1,000 | 10,000 | growth | how |
|---|---|---|---|---|
${targets}

${keptWhy()}

## Writes by id at fleet scale (issue 17)

Driver and raw requests take turns in one run (\`bench/write-latency.ts\`: call by call at 1 in
flight, 16 calls a side at 16, the side that goes first alternating), as the driver's identity; the
raw side writes another CR of the same fleet. The driver's calls come from a C-core gRPC client
(\`bench/grpc_caller.py\`), as the gateway's come from a compiled one; a column measured before
that client existed timed the bench's Connect client, ~1.5 ms a call slower on its own (its
section's "how" says which). "Running → stopped" waits for the controller to delete the pod and
report \`Suspended=True\` on both sides, polling on the driver's schedule; "already stopped" is the
write alone. A Get miss is compared with a GET of one sandbox by name.

${writeTargets(clusterRuns)}

${clusterRuns.map(clusterSection).join("\n")}
${synthetic ? tableSection("Synthetic API (no cluster)", synthetic) : ""}
${idle ? tableSection("Idle footprint", idle) : ""}
${soak ? soakSection(soak) : ""}`;
}

if (import.meta.main) {
  writeFileSync(BENCHMARKS, renderBenchmarks());
  console.error("wrote BENCHMARKS.md");
}
