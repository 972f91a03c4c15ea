// The soak's figures as BENCHMARKS.md shows them: one row per figure with its first and last
// sample, a sparkline of every minute, and the least-squares slope per hour, over the whole run and
// after the warm-up (the pool fills, the caches and the JIT settle in the first minutes, so growth
// there is not drift).
import type { Provenance } from "./report";

/** One minute of the soak: the driver as /proc and its /metrics saw it, and what the churn did. */
export interface SoakSample {
  /** Minutes since the driver was serving and the watches were open. */
  minute: number;
  rssMiB: number;
  /** nodejs_heap_size_used_bytes (Bun: the JavaScriptCore heap in use). */
  heapUsedMiB: number;
  /** Entries of /proc/PID/fd. */
  fds: number;
  /** openshell_driver_watch_streams. */
  watchStreams: number;
  /** Write sent → its watch event seen, over the minute's creates and deletes on the steady watches. */
  lagP50Ms: number;
  lagMaxMs: number;
  /** The same, of creates only (POST → the informer's ADDED → every stream). */
  createLagP50Ms: number;
  /** Of deletes only: → the first event naming it (deleting, or deleted once its CR is gone). */
  deleteLagP50Ms: number;
  lagSamples: number;
  /** Sandboxes the last ListSandboxes of the minute returned. */
  listed: number;
  /** Calls made in the minute, by RPC. */
  calls: Record<string, number>;
  /** Calls that failed in the minute, by "RPC CODE". */
  errors: Record<string, number>;
  /** Write events a steady watch had not seen 60 s after the write (lost events). */
  missedEvents: number;
}

export interface SoakResult extends Provenance {
  minutes: number;
  /** Most sandboxes alive at once (slots churning through create → stop → start → delete). */
  pool: number;
  watches: number;
  samples: SoakSample[];
  reconnects: number;
  /** Watch streams that ended without being asked to (each reopened). */
  watchFailures: number;
  /** Why the run ended before its duration, when it did. */
  endedEarly?: string;
}

/** Samples before this minute are the warm-up, left out of the second slope. */
export const WARM_UP_MINUTES = 10;
const BARS = "▁▂▃▄▅▆▇█";

/** Least-squares slope of `ys` against `xs`; 0 when there are fewer than two distinct x. */
export function slope(xs: number[], ys: number[]): number {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return 0;
  const mx = xs.slice(0, n).reduce((a, b) => a + b, 0) / n;
  const my = ys.slice(0, n).reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  return sxx === 0 ? 0 : sxy / sxx;
}

/** One block character per value, scaled between the series' own minimum and maximum. */
export function sparkline(ys: number[]): string {
  if (ys.length === 0) return "";
  const lo = Math.min(...ys);
  const hi = Math.max(...ys);
  return ys.map((y) => BARS[hi === lo ? 0 : Math.round(((y - lo) / (hi - lo)) * (BARS.length - 1))]).join("");
}

/** The value at quantile `q` (0..1) of `xs`, nearest rank; NaN when empty. */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

interface SoakFigure {
  what: string;
  unit: string;
  digits: number;
  value: (s: SoakSample) => number;
}

export const SOAK_FIGURES: SoakFigure[] = [
  { what: "RSS", unit: "MiB", digits: 1, value: (s) => s.rssMiB },
  { what: "JS heap in use", unit: "MiB", digits: 1, value: (s) => s.heapUsedMiB },
  { what: "open file descriptors", unit: "", digits: 0, value: (s) => s.fds },
  { what: "WatchSandboxes streams", unit: "", digits: 0, value: (s) => s.watchStreams },
  { what: "event lag p50", unit: "ms", digits: 0, value: (s) => s.lagP50Ms },
  { what: "event lag max", unit: "ms", digits: 0, value: (s) => s.lagMaxMs },
  { what: "event lag p50, creates", unit: "ms", digits: 0, value: (s) => s.createLagP50Ms },
  { what: "event lag p50, deletes", unit: "ms", digits: 0, value: (s) => s.deleteLagP50Ms },
  { what: "sandboxes listed", unit: "", digits: 0, value: (s) => s.listed },
];

/** Slope per hour of one figure over `samples` (x in hours). */
export function slopePerHour(samples: SoakSample[], value: (s: SoakSample) => number): number {
  const kept = samples.filter((s) => Number.isFinite(value(s)));
  return slope(
    kept.map((s) => s.minute / 60),
    kept.map(value),
  );
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

function merged(samples: SoakSample[], field: "calls" | "errors"): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) for (const [k, v] of Object.entries(s[field])) out[k] = (out[k] ?? 0) + v;
  return out;
}

export function soakSection(r: SoakResult): string {
  const samples = r.samples;
  const settled = samples.filter((s) => s.minute >= WARM_UP_MINUTES);
  const show = (f: SoakFigure, x: number) => (Number.isFinite(x) ? `${x.toFixed(f.digits)}${f.unit ? ` ${f.unit}` : ""}` : "–");
  const signed = (f: SoakFigure, x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(f.digits + 1)}${f.unit ? ` ${f.unit}` : ""}/h`;
  const rows = SOAK_FIGURES.map((f) => {
    const ys = samples.map(f.value);
    const finite = ys.filter(Number.isFinite);
    const late = settled.length >= 2 ? signed(f, slopePerHour(settled, f.value)) : "–";
    const range = finite.length ? `${show(f, Math.min(...finite))} – ${show(f, Math.max(...finite))}` : "–";
    return `| ${f.what} | ${show(f, ys[0] ?? Number.NaN)} | ${show(f, ys.at(-1) ?? Number.NaN)} | ${range} | ${signed(f, slopePerHour(samples, f.value))} | ${late} | \`${sparkline(finite)}\` |`;
  }).join("\n");
  const calls = merged(samples, "calls");
  const errors = merged(samples, "errors");
  const callLine = Object.entries(calls).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k} ${v.toLocaleString("en")}`).join(", ");
  const errorLine = Object.keys(errors).length ? Object.entries(errors).map(([k, v]) => `${k} × ${v}`).join(", ") : "none";
  const lagSamples = samples.reduce((a, s) => a + s.lagSamples, 0);
  const missed = samples.reduce((a, s) => a + s.missedEvents, 0);
  return `## Soak, ${r.minutes} minutes

\`${r.command}\` at ${r.at}, driver built from ${r.commit}; ${r.machine}. ${samples.length} samples, one a
minute. Churn: ${r.pool} sandboxes at most, each slot cycling create → stop → start → delete (a new id
each time) with Gets every 250 ms and a List every 2 s; ${r.watches} WatchSandboxes streams, one of
them closed with its connection and reopened every minute (${r.reconnects} reconnects, ${r.watchFailures}
streams ended unasked). Event lag: a create or delete sent → the event naming it on each steady watch
(${lagSamples.toLocaleString("en")} measured, ${missed} not seen within 60 s).${r.endedEarly ? ` **Ended early: ${r.endedEarly}.**` : ""}

| figure | first | last | range | slope (all) | slope (after ${WARM_UP_MINUTES} min) | every minute |
|---|---|---|---|---|---|---|
${rows}

Calls: ${callLine} (${sum(calls).toLocaleString("en")} in all). Failed: ${errorLine}.
`;
}
