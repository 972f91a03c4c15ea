// Chaos tier: a deletion that happens while the driver's watch is down and whose history etcd has
// compacted away. The driver can only learn of it by relisting after its watch is refused (410),
// and it must still tell the gateway the sandbox is gone.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connectClient } from "../support/clients";
import { apiserver, driverKubeconfig, eventually, kubectl, kubectlGetOptional } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { sandboxRequest, uniqueName } from "../support/requests";
import { WatchRecorder } from "../support/watch-recorder";
import { clusterSandboxIds, etcd, newSandboxBecomesReady, removeGatewaySandboxes, report } from "./chaos-kit";

const NS = "openshell-system";
const GATEWAY_ID = `chaos-compact-${Date.now().toString(36)}`;

let driver: DriverProcess;
let watch: WatchRecorder;
let pausedPid: number | undefined;

function resumeDriver(): void {
  if (pausedPid === undefined) return;
  pausedPid = undefined;
  // A driver that exited while stopped (or just before) is the finding; its logs say why.
  if (driver.proc.exitCode !== null || driver.proc.signalCode !== null) {
    throw new Error(`the driver exited (code ${driver.proc.exitCode}, signal ${driver.proc.signalCode}) around the outage:\n${driver.logs().slice(-4000)}`);
  }
  process.kill(driver.proc.pid, "SIGCONT");
}

beforeAll(async () => {
  apiserver("start");
  driver = await startDriver({ kubeconfig: driverKubeconfig(), gatewayId: GATEWAY_ID, args: ["--kube-timeout=5s"], ownProcessGroup: true });
  watch = new WatchRecorder(driver.socket);
});

afterAll(async () => {
  resumeDriver();
  apiserver("start");
  await watch?.close();
  await removeGatewaySandboxes(NS, GATEWAY_ID);
  await driver?.stop();
});

test("a sandbox deleted while the watch is down, its history compacted in etcd, still reaches the watch as deleted", async () => {
  const client = connectClient(driver.socket);
  const doomed = uniqueName("compact");
  const kept = uniqueName("kept");
  await client.createSandbox({ sandbox: sandboxRequest(doomed) });
  await client.createSandbox({ sandbox: sandboxRequest(kept) });
  await watch.waitForSnapshot("the doomed sandbox on the watch", doomed.id, () => true);
  await watch.waitForSnapshot("the kept sandbox on the watch", kept.id, () => true);

  let compactedAt = 0;
  pausedPid = driver.proc.pid;
  process.kill(pausedPid, "SIGSTOP");
  try {
    // Cut every watch connection while the driver cannot reconnect, delete behind its back, then
    // compact etcd up to now so the resourceVersion the driver resumes from no longer exists.
    apiserver("stop");
    apiserver("start");
    kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/sandbox-id=${doomed.id}`]);
    await eventually("the CR gone from the cluster", () => (kubectlGetOptional(["sandboxes.agents.x-k8s.io", "-n", NS, `ws--${doomed.name}`]) ? undefined : true), 60_000);
    compactedAt = Number((await etcd("/v3/kv/range", { key: Buffer.from("\0").toString("base64") })).header.revision);
    await etcd("/v3/kv/compaction", { revision: String(compactedAt), physical: true });
  } finally {
    resumeDriver();
  }

  await watch.waitForDeleted(doomed.id);
  await eventually("List equal to the cluster", async () => {
    const listed = (await client.listSandboxes({})).sandboxes.map((s) => s.id).sort();
    return JSON.stringify(listed) === JSON.stringify(clusterSandboxIds(NS, GATEWAY_ID)) ? true : undefined;
  });
  const listed = (await client.listSandboxes({})).sandboxes.map((s) => s.id);
  const relisted = /expired, relisting/.test(driver.logs());

  const settleSeconds = await newSandboxBecomesReady(driver.socket);
  report("compaction while the watch is down", { settleSeconds, compactedAt, deletionsMissed: 0, relistLogged: String(relisted), crashes: driver.proc.exitCode === null ? 0 : 1 });
  expect(listed).toContain(kept.id);
  expect(listed).not.toContain(doomed.id);
  expect(await Promise.race([watch.done, Promise.resolve("open")])).toBe("open");
  await client.deleteSandbox({ sandboxId: kept.id });
}, 480_000);
