// Chaos tier: a quiet API-server restart. In a namespace where nothing happens no watch event can
// clear an informer's error, so /readyz must recover from the watches being healthy again.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { apiserver, driverKubeconfig, eventually, grantDriverRoleIn, kubectl } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { WatchRecorder } from "../support/watch-recorder";
import { newSandboxBecomesReady, removeGatewaySandboxes, report } from "./chaos-kit";

const QUIET_NS = `chaos-quiet-${Date.now().toString(36)}`;
const GATEWAY_ID = QUIET_NS;

let driver: DriverProcess;
let watch: WatchRecorder;

beforeAll(async () => {
  apiserver("start");
  kubectl(["create", "namespace", QUIET_NS]);
  grantDriverRoleIn(QUIET_NS);
  driver = await startDriver({ kubeconfig: driverKubeconfig(), gatewayId: GATEWAY_ID, namespace: QUIET_NS, args: ["--kube-timeout=5s"] });
  watch = new WatchRecorder(driver.socket);
});

afterAll(async () => {
  await watch?.close();
  apiserver("start");
  await driver?.stop();
  kubectl(["delete", "namespace", QUIET_NS, "--wait=false"], { allowFailure: true });
});

async function readyz(): Promise<number | undefined> {
  return (await fetch(`${driver.healthUrl}/readyz`, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined))?.status;
}

test("after a quiet API-server restart /readyz turns 200 again within seconds, without any event flowing; then new sandboxes become Ready", async () => {
  expect(await readyz()).toBe(200);
  const eventsBefore = watch.events.length;

  apiserver("stop");
  try {
    await eventually("/readyz 503 while the API server is down", async () => ((await readyz()) === 503 ? true : undefined), 30_000);
  } finally {
    apiserver("start");
  }
  const restartedAt = Date.now();
  await eventually("/readyz 200 after the restart", async () => ((await readyz()) === 200 ? true : undefined), 30_000);
  const secondsToReady = ((Date.now() - restartedAt) / 1000).toFixed(1);

  const eventsDuring = watch.events.length - eventsBefore;
  expect(eventsDuring).toBe(0);
  expect(await Promise.race([watch.done, Promise.resolve("open")])).toBe("open");
  // The quiet namespace must stay quiet, so the recovery probe runs through a second driver.
  const settler = await startDriver({ kubeconfig: driverKubeconfig(), gatewayId: `${GATEWAY_ID}-settle` });
  let settleSeconds: number;
  try {
    settleSeconds = await newSandboxBecomesReady(settler.socket);
    await removeGatewaySandboxes("openshell-system", `${GATEWAY_ID}-settle`);
  } finally {
    await settler.stop();
  }
  report("quiet API-server restart", { readyAfterSeconds: secondsToReady, eventsDuring, settleSeconds });
}, 480_000);
