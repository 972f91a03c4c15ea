// Tenant tier, generated: thousands of seeded requests (annotation and label keys and values,
// names, quantities, environment strings, placement) thrown at the compiled driver's socket on
// the local control plane. Each is asked of ValidateSandboxCreate, then of CreateSandbox: never
// INTERNAL or UNKNOWN, both give the same answer, and a Sandbox CR exists only for what both
// accepted. TENANT_FUZZ_SEED replays a run; the seed is printed either way.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ConnectError } from "@connectrpc/connect";
import { OUTAGE_CODES, Tally, codeName, removeGatewaySandboxes, report } from "../chaos/chaos-kit";
import { connectClient } from "../support/clients";
import { driverKubeconfig, kubectlJson } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { PolicyFuzzGenerator } from "./policy-fuzz-cases";

const NS = "openshell-system";
const GATEWAY_ID = `tp-fuzz-${Date.now().toString(36)}`;
const SEED = Number(process.env.TENANT_FUZZ_SEED ?? 15_2026);
const REQUESTS = 2_100;
const CONCURRENCY = 4;

let driver: DriverProcess;

beforeAll(async () => {
  driver = await startDriver({ kubeconfig: driverKubeconfig(), gatewayId: GATEWAY_ID });
});

afterAll(async () => {
  await removeGatewaySandboxes(NS, GATEWAY_ID);
  await driver?.stop();
});

interface Answer {
  code: string;
  message: string;
}

async function answer(call: Promise<unknown>): Promise<Answer> {
  try {
    await call;
    return { code: "OK", message: "" };
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: codeName(e.code), message: e.rawMessage };
  }
}

test(`${REQUESTS} generated tenant requests: no INTERNAL or UNKNOWN, Validate and Create agree on each, no CR for a refused one`, async () => {
  console.log(`[tenant] request-policy fuzz seed=${SEED} (replay with TENANT_FUZZ_SEED=${SEED})`);
  const generator = new PolicyFuzzGenerator(SEED, GATEWAY_ID.replace("tp-fuzz-", "f"));
  const client = connectClient(driver.socket);
  const byKind = new Map<string, Tally>();
  const broken: string[] = [];
  const disagreements: string[] = [];
  const accepted = new Set<string>();
  const refused = new Set<string>();
  /** Requests the shared API server did not answer in time (UNAVAILABLE, DEADLINE_EXCEEDED): no verdict. */
  const outages = new Set<string>();
  const cases = Array.from({ length: REQUESTS }, () => generator.next());

  let i = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (i < cases.length) {
        const n = i;
        const { kinds, sandbox } = cases[i++]!;
        if (n > 0 && n % 500 === 0) console.log(`[tenant]   ${n} sent: ${accepted.size} accepted, ${refused.size} refused, ${outages.size} without an answer`);
        const validated = await answer(client.validateSandboxCreate({ sandbox }));
        const created = await answer(client.createSandbox({ sandbox }));
        const kind = [...new Set(kinds)].sort().join("+");
        if (!byKind.has(kind)) byKind.set(kind, new Tally());
        byKind.get(kind)!.add(created.code);
        for (const a of [validated, created]) if (a.code === "INTERNAL" || a.code === "UNKNOWN") broken.push(`${sandbox.id} ${kind}: ${a.code} ${a.message}`);
        if (OUTAGE_CODES.has(validated.code) || OUTAGE_CODES.has(created.code)) {
          outages.add(sandbox.id);
          continue;
        }
        if (validated.code !== created.code || validated.message !== created.message) {
          disagreements.push(`${sandbox.id} ${kind}: validate ${validated.code} "${validated.message}" / create ${created.code} "${created.message}"`);
        }
        if (created.code === "OK") {
          accepted.add(sandbox.id);
          // Accepted ones are removed at once, so the shared cluster holds few at a time (afterAll
          // removes any whose delete the API server did not answer).
          await client.deleteSandbox({ sandboxId: sandbox.id }).catch(() => undefined);
        } else {
          refused.add(sandbox.id);
        }
      }
    }),
  );

  const crs = kubectlJson<{ items: any[] }>(["get", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/gateway-id=${GATEWAY_ID}`]).items;
  const crForRefused = crs.map((cr) => cr.metadata.labels["openshell.ai/sandbox-id"] as string).filter((id) => refused.has(id));
  for (const [kind, tally] of [...byKind.entries()].sort()) console.log(`[tenant]   ${kind}: ${tally}`);
  const codes = new Tally();
  for (const tally of byKind.values()) for (const [code, n] of tally.counts) for (let k = 0; k < n; k++) codes.add(code);
  report("request-policy fuzz", {
    seed: SEED,
    requests: cases.length,
    rpcs: cases.length * 2,
    accepted: accepted.size,
    refused: refused.size,
    outages: outages.size,
    codes: String(codes),
    broken: broken.length,
    disagreements: disagreements.length,
    crForRefused: crForRefused.length,
  });
  if (broken.length) console.log("[tenant]   broken:", broken.slice(0, 10));
  if (disagreements.length) console.log("[tenant]   disagreements:", disagreements.slice(0, 10));
  expect(cases.length).toBeGreaterThanOrEqual(2_000);
  expect(broken).toEqual([]);
  // An API server too slow to answer a few is tolerated; one that answers none proves nothing.
  expect(outages.size).toBeLessThan(cases.length / 20);
  expect(disagreements).toEqual([]);
  expect(crForRefused).toEqual([]);
  // Both kinds of answer were exercised, so the agreement above means something.
  expect(accepted.size).toBeGreaterThan(100);
  expect(refused.size).toBeGreaterThan(1_000);
}, 900_000);
