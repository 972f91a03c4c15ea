// Chaos tier: kube-apiserver frozen with SIGSTOP (connections accepted, nothing answered) for longer
// than the driver's --kube-timeout. Every RPC must still answer, /readyz must say 503, and after
// SIGCONT the same driver process must serve again.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connectClient } from "../support/clients";
import { apiserver, driverKubeconfig, eventually } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { sandboxRequest, uniqueName } from "../support/requests";
import { BROKEN_CODES, Tally, apiserverPid, newSandboxBecomesReady, removeGatewaySandboxes, report, statusOf } from "./chaos-kit";

const NS = "openshell-system";
const GATEWAY_ID = `chaos-freeze-${Date.now().toString(36)}`;
const KUBE_TIMEOUT_S = 3;
/**
 * Far above what the driver may take (a create's POST and then the lookup of its outcome, each
 * bounded by the kube timeout), so only a hang hits it. The freeze lasts until every call answered.
 */
const HANG_MS = (2 * KUBE_TIMEOUT_S + 5) * 1000;
const FREEZE_MS = (KUBE_TIMEOUT_S + 5) * 1000;

let driver: DriverProcess;
let frozenPid: number | undefined;

function thaw(): void {
  if (frozenPid !== undefined) process.kill(frozenPid, "SIGCONT");
  frozenPid = undefined;
}

beforeAll(async () => {
  apiserver("start");
  driver = await startDriver({ kubeconfig: driverKubeconfig(), gatewayId: GATEWAY_ID, args: [`--kube-timeout=${KUBE_TIMEOUT_S}s`] });
});

afterAll(async () => {
  thaw();
  await removeGatewaySandboxes(NS, GATEWAY_ID);
  await driver?.stop();
});

/** A call's status, or "HUNG" when the driver did not answer before HANG_MS. */
function answer(call: (signal: AbortSignal) => Promise<unknown>): Promise<string> {
  const signal = AbortSignal.timeout(HANG_MS);
  return statusOf(call(signal)).then((code) => (signal.aborted ? "HUNG" : code));
}

async function readyz(): Promise<number | "HUNG"> {
  const res = await fetch(`${driver.healthUrl}/readyz`, { signal: AbortSignal.timeout(HANG_MS) }).catch(() => undefined);
  return res?.status ?? "HUNG";
}

test("a frozen API server past the kube timeout: every RPC answers, /readyz says 503, SIGCONT brings the same process back and new sandboxes become Ready", async () => {
  const client = connectClient(driver.socket);
  const existing = uniqueName("freeze");
  await client.createSandbox({ sandbox: sandboxRequest(existing) });
  const pid = driver.proc.pid;

  const codes = new Tally();
  const readyDuringFreeze: (number | "HUNG")[] = [];
  frozenPid = apiserverPid();
  process.kill(frozenPid, "SIGSTOP");
  try {
    const frozenAt = Date.now();
    // Every method the gateway calls, twice over, all at once against the frozen server.
    const round = () => [
      answer((signal) => client.getSandbox({ sandboxId: existing.id }, { signal })),
      answer((signal) => client.listSandboxes({}, { signal })),
      answer((signal) => client.createSandbox({ sandbox: sandboxRequest(uniqueName("frozen")) }, { signal })),
      answer((signal) => client.validateSandboxCreate({ sandbox: sandboxRequest(uniqueName("frozen")) }, { signal })),
      answer((signal) => client.stopSandbox({ sandboxId: existing.id }, { signal })),
      answer((signal) => client.deleteSandbox({ sandboxId: `${existing.id}-missing` }, { signal })),
      answer((signal) => client.getCapabilities({}, { signal })),
    ];
    for (const code of await Promise.all([...round(), ...round()])) codes.add(code);
    await eventually("/readyz 503 while the API server is frozen", async () => {
      const status = await readyz();
      readyDuringFreeze.push(status);
      return status === 503 ? status : undefined;
    }, 30_000);
    // Hold the freeze past the kube timeout whatever the calls above took.
    await Bun.sleep(Math.max(0, FREEZE_MS - (Date.now() - frozenAt)));
    for (const code of await Promise.all(round())) codes.add(code);
  } finally {
    thaw();
  }

  await eventually("/readyz 200 after SIGCONT", async () => ((await readyz()) === 200 ? true : undefined), 60_000);
  await eventually("Get and List served again", async () => {
    const got = await client.getSandbox({ sandboxId: existing.id });
    const listed = await client.listSandboxes({});
    return got.sandbox?.id === existing.id && listed.sandboxes.some((s) => s.id === existing.id) ? true : undefined;
  }, 30_000);

  const settleSeconds = await newSandboxBecomesReady(driver.socket);
  report("API server frozen past the kube timeout", {
    settleSeconds,
    tried: codes.total(),
    answers: `[${codes}]`,
    hung: codes.get("HUNG"),
    broken: [...BROKEN_CODES].reduce((n, c) => n + codes.get(c), 0),
    readyz: `[${readyDuringFreeze.join(",")}]`,
    crashes: driver.proc.exitCode === null ? 0 : 1,
  });
  expect(codes.get("HUNG")).toBe(0);
  expect([...codes.counts.keys()].filter((c) => BROKEN_CODES.has(c))).toEqual([]);
  expect(readyDuringFreeze).not.toContain("HUNG");
  expect(driver.proc.exitCode).toBeNull();
  expect(driver.proc.pid).toBe(pid);
  await client.deleteSandbox({ sandboxId: existing.id });
}, 480_000);
