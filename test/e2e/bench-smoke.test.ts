// e2e tier: `just bench-cluster` at 100 sandboxes, so the benchmark itself cannot rot. No timing
// is asserted (figures depend on the machine); every phase must run, every count must be right,
// every read under load must succeed, and nothing the run made may be left in the cluster.
import { expect, test } from "bun:test";
import { runClusterBench } from "../../bench/real-cluster";
import { CLUSTER_MEASURES } from "../../bench/report";
import { kubectlJson } from "../support/cluster";

const SANDBOXES = 100;

test("the real-cluster bench at 100 sandboxes runs every phase, serves all 100 under load from both clients, and leaves nothing behind", async () => {
  const result = await runClusterBench({ sandboxes: SANDBOXES, seconds: 0.3, inFlight: [1, 16], createSamples: 10 });

  expect(result.phases).toEqual(["idle", "empty", "create", "bulk", "list", "start", "load", "writes", "cleanup"]);
  expect(result.created).toBe(SANDBOXES);
  expect(result.podsSeen).toBe(SANDBOXES);
  expect(result.servedCount).toBe(SANDBOXES);
  // Every figure BENCHMARKS.md judges a target by was measured.
  expect(CLUSTER_MEASURES.filter((key) => result.measures[key] === undefined)).toEqual([]);
  const cells = result.load.map((r) => `${r.client} ${r.op} ${r.inFlight}`);
  expect(cells).toHaveLength(3 * 2 * 2);
  for (const r of result.load) {
    expect({ cell: `${r.client} ${r.op} ${r.inFlight}`, errors: r.errors }).toEqual({ cell: `${r.client} ${r.op} ${r.inFlight}`, errors: {} });
    expect(r.calls).toBeGreaterThan(0);
  }
  // Stop, Start, Delete and a Get miss, each through the driver and raw, at 1 and 16 in flight.
  expect(result.writes?.cells.map((c) => `${c.op} ${c.inFlight}`)).toHaveLength(5 * 2);
  for (const c of result.writes!.cells) expect(c.driver.calls).toBeGreaterThan(0);
  expect(result.leftBehind).toEqual({ sandboxes: 0, pods: 0 });
  const selector = `openshell.ai/gateway-id=${result.gatewayId}`;
  for (const kind of ["sandboxes.agents.x-k8s.io", "pods", "pvc"]) {
    expect(kubectlJson<{ items: unknown[] }>(["get", kind, "-n", "openshell-system", "-l", selector]).items).toEqual([]);
  }
}, 400_000);
