// Chaos tier: creates and deletes keep coming, a few at a time, while kube-apiserver is stopped and
// started again and again under an open WatchSandboxes stream. Afterwards nothing the gateway was
// told exists may be missing (lost), nothing it was not told about may exist (phantom), and the
// watch's view, List and the cluster all agree.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connectClient } from "../support/clients";
import { apiserver, driverKubeconfig, eventually } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { sandboxRequest, uniqueName } from "../support/requests";
import { WatchRecorder } from "../support/watch-recorder";
import { BROKEN_CODES, OUTAGE_CODES, Tally, clusterSandboxIds, newSandboxBecomesReady, removeGatewaySandboxes, report, statusOf } from "./chaos-kit";

const NS = "openshell-system";
const GATEWAY_ID = `chaos-churn-${Date.now().toString(36)}`;
const KUBE_TIMEOUT_S = 5;
const CALL_TIMEOUT_MS = (KUBE_TIMEOUT_S + 5) * 1000;
const RESTARTS = 5;
/** Operations between two restarts: half before the outage, half during and after it. */
const OPERATIONS_PER_RESTART = 48;
const WORKERS = 3;

let driver: DriverProcess;
let watch: WatchRecorder;

beforeAll(async () => {
  driver = await startDriver({ kubeconfig: driverKubeconfig(), gatewayId: GATEWAY_ID, args: [`--kube-timeout=${KUBE_TIMEOUT_S}s`] });
  watch = new WatchRecorder(driver.socket);
});

afterAll(async () => {
  await watch?.close();
  apiserver("start"); // idempotent: never leave the shared control plane down
  await removeGatewaySandboxes(NS, GATEWAY_ID);
  await driver?.stop();
});

/** What the gateway believes about each sandbox id after its last answer. */
type Belief = "exists" | "create-unknown" | "gone" | "delete-unknown";

/** The sandbox ids the watch stream says exist, folded in arrival order. */
function watchView(): string[] {
  const live = new Set<string>();
  for (const e of watch.events) {
    if (e.payload.case === "sandbox" && e.payload.value.sandbox) live.add(e.payload.value.sandbox.id);
    if (e.payload.case === "deleted") live.delete(e.payload.value.sandboxId);
  }
  return [...live].sort();
}

test(`${RESTARTS * OPERATIONS_PER_RESTART} creates and deletes across ${RESTARTS} API-server restarts: 0 lost, 0 phantom, List, watch and cluster agree, new sandboxes become Ready`, async () => {
  const client = connectClient(driver.socket);
  const beliefs = new Map<string, Belief>();
  const names = new Map<string, string>();
  const createCodes = new Tally();
  const deleteCodes = new Tally();
  let operations = 0;
  let stopping = false;

  const create = async (id: string) => {
    const code = await statusOf(client.createSandbox({ sandbox: sandboxRequest({ id, name: names.get(id)! }) }, { timeoutMs: CALL_TIMEOUT_MS }));
    createCodes.add(code);
    beliefs.set(id, code === "OK" ? "exists" : "create-unknown");
    return code;
  };
  const remove = async (id: string) => {
    const code = await statusOf(client.deleteSandbox({ sandboxId: id }, { timeoutMs: CALL_TIMEOUT_MS }));
    deleteCodes.add(code);
    beliefs.set(id, code === "OK" ? "gone" : "delete-unknown");
    return code;
  };

  // Deterministic choice per operation: roughly 3 creates for every 2 deletes, never two
  // operations on the same id at once. A failed call backs off a little, as a gateway would.
  let budget = 0;
  const busy = new Set<string>();
  const worker = async (w: number) => {
    for (let i = 0; !stopping; i++) {
      if (operations >= budget) {
        await Bun.sleep(50);
        continue;
      }
      operations++;
      const deletable = [...beliefs.entries()].find(([id, b]) => b === "exists" && !busy.has(id))?.[0];
      let code: string;
      if (deletable && (i + w) % 5 >= 3) {
        busy.add(deletable);
        code = await remove(deletable);
        busy.delete(deletable);
      } else {
        const { id, name } = uniqueName("churn");
        names.set(id, name);
        busy.add(id);
        code = await create(id);
        busy.delete(id);
      }
      await Bun.sleep(code === "OK" ? 20 : 300);
    }
  };
  const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));

  let restarts = 0;
  const startedAt = Date.now();
  try {
    for (; restarts < RESTARTS; restarts++) {
      budget += OPERATIONS_PER_RESTART;
      await eventually("operations before the outage", () => (operations >= budget - OPERATIONS_PER_RESTART / 2 ? true : undefined), 120_000);
      apiserver("stop");
      await Bun.sleep(1000);
      apiserver("start");
    }
    await eventually("every operation sent", () => (operations >= budget ? true : undefined), 120_000);
  } finally {
    stopping = true;
    await Promise.all(workers);
  }
  const churnSeconds = ((Date.now() - startedAt) / 1000).toFixed(0);

  // The gateway retries what it could not confirm: a create is idempotent for the same id, a
  // delete of a missing sandbox answers deleted=false.
  let retried = 0;
  for (const [id, belief] of beliefs) {
    if (belief === "create-unknown") {
      retried++;
      expect({ id, code: await create(id) }).toEqual({ id, code: "OK" });
    } else if (belief === "delete-unknown") {
      retried++;
      expect({ id, code: await remove(id) }).toEqual({ id, code: "OK" });
    }
  }
  const expected = [...beliefs.entries()].filter(([, b]) => b === "exists").map(([id]) => id).sort();

  const settled = await eventually(
    "List, watch and cluster to agree with what the gateway was told",
    async () => {
      const listed = (await client.listSandboxes({})).sandboxes.map((s) => s.id).sort();
      const inCluster = clusterSandboxIds(NS, GATEWAY_ID);
      const watched = watchView();
      const same = (a: string[]) => JSON.stringify(a) === JSON.stringify(expected);
      return same(listed) && same(inCluster) && same(watched) ? { listed, inCluster, watched } : undefined;
    },
    90_000,
  ).catch(async (err) => {
    const inCluster = new Set(clusterSandboxIds(NS, GATEWAY_ID));
    const lost = expected.filter((id) => !inCluster.has(id));
    const phantom = [...inCluster].filter((id) => !expected.includes(id));
    throw new Error(`${(err as Error).message}; lost=${JSON.stringify(lost)} phantom=${JSON.stringify(phantom)}`);
  });

  const unexpected = [...createCodes.counts.keys(), ...deleteCodes.counts.keys()].filter((c) => c !== "OK" && !OUTAGE_CODES.has(c));
  const settleSeconds = await newSandboxBecomesReady(driver.socket);
  report("churn across API-server restarts", {
    settleSeconds,
    tried: createCodes.total() + deleteCodes.total(),
    restarts,
    churnSeconds,
    creates: `[${createCodes}]`,
    deletes: `[${deleteCodes}]`,
    retried,
    survived: settled.inCluster.length,
    lost: 0,
    phantom: 0,
    broken: unexpected.filter((c) => BROKEN_CODES.has(c)).length,
  });
  expect(unexpected).toEqual([]);
  expect(restarts).toBe(RESTARTS);
  expect(operations).toBe(RESTARTS * OPERATIONS_PER_RESTART);
  expect(await Promise.race([watch.done, Promise.resolve("open")])).toBe("open");
  expect(driver.proc.exitCode).toBeNull();
}, 600_000);
