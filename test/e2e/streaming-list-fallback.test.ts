// e2e tier: the informers' fallback from streaming lists (WatchList, KEP-3157) to LIST + watch, on
// a real kube-apiserver that refuses them, as every 1.30–1.33 cluster does (WatchList is off by
// default there; src/kube/streaming-list.ts). Where the cluster's own API server serves streaming
// lists (1.34+), a second kube-apiserver is started beside it for this file: the same etcd, the
// same flags, its own port, and `--feature-gates=WatchList=false`; it is stopped afterwards.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Subprocess } from "bun";
import { mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectClient } from "../support/clients";
import { clusterState, driverKubeconfig, eventually, kubectl } from "../support/cluster";
import { freePort, startDriver, type DriverProcess } from "../support/driver-process";
import { CLUSTER_DIR } from "../support/paths";
import { sandboxRequest, uniqueName } from "../support/requests";
import { condition } from "../support/watch-recorder";

const NS = "openshell-system";
const GATEWAY_ID = `e2e-wl-${Date.now().toString(36)}`;
const STREAMING_WATCH = `/api/v1/namespaces/${NS}/pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1`;
const state = clusterState();
const work = mkdtempSync(join(tmpdir(), "watchlist-e2e-"));

let refusingServer = state.apiserverUrl;
let secondApiserver: Subprocess | undefined;
let driver: DriverProcess | undefined;

function kubectlAt(server: string, args: string[]) {
  return Bun.spawnSync([join(state.binDir, "kubectl"), "--kubeconfig", state.kubeconfig, "--server", server, ...args], { stdout: "pipe", stderr: "pipe" });
}

/** The server answers a streaming list's watch with 422 (WatchList off), as the driver's informers see it. */
function refusesStreamingLists(server: string): boolean {
  const proc = kubectlAt(server, ["get", "--raw", STREAMING_WATCH]);
  return proc.exitCode !== 0 && proc.stderr.toString().includes("sendInitialEvents");
}

/** A second kube-apiserver on the same etcd with WatchList off, on a port of its own. */
async function startApiserverWithoutWatchList(): Promise<string> {
  const port = await freePort();
  const args = readFileSync(join(CLUSTER_DIR, "args/kube-apiserver.args"), "utf8")
    .split("\n")
    .filter((a) => a !== "" && !a.startsWith("--feature-gates="))
    .map((a) => (a.startsWith("--secure-port=") ? `--secure-port=${port}` : a.startsWith("--cert-dir=") ? `--cert-dir=${join(work, "certs")}` : a));
  const log = openSync(join(work, "kube-apiserver.log"), "a");
  secondApiserver = Bun.spawn([join(state.binDir, "kube-apiserver"), ...args, "--feature-gates=WatchList=false"], { stdout: log, stderr: log });
  const url = `https://127.0.0.1:${port}`;
  await eventually("the second kube-apiserver ready", () => (kubectlAt(url, ["get", "--raw", "/readyz"]).exitCode === 0 ? true : undefined), 90_000, 500);
  return url;
}

beforeAll(async () => {
  if (!refusesStreamingLists(state.apiserverUrl)) refusingServer = await startApiserverWithoutWatchList();
  expect(refusesStreamingLists(refusingServer)).toBe(true);
  const kubeconfig = join(work, "driver.kubeconfig");
  writeFileSync(kubeconfig, readFileSync(driverKubeconfig(), "utf8").replace(/server: https:\/\/127\.0\.0\.1:\d+/, `server: ${refusingServer}`));
  driver = await startDriver({ kubeconfig, gatewayId: GATEWAY_ID });
}, 180_000);

afterAll(async () => {
  kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/gateway-id=${GATEWAY_ID}`, "--wait=false"], { allowFailure: true });
  await driver?.stop();
  secondApiserver?.kill("SIGTERM");
  await secondApiserver?.exited;
});

describe("on an API server that refuses streaming lists", () => {
  test("the driver's caches list instead, say so once, and a sandbox is created, seen Ready, listed and deleted", async () => {
    expect(driver!.logs()).toMatch(/does not serve streaming lists \([^)]*\); listing instead/);
    const client = connectClient(driver!.socket);
    const { id, name } = uniqueName("watchlist");
    await client.createSandbox({ sandbox: sandboxRequest({ id, name }) });
    await eventually("Ready=True", async () => {
      const sandbox = (await client.getSandbox({ sandboxId: id })).sandbox!;
      return condition(sandbox, "Ready")?.status === "True" ? sandbox : undefined;
    });
    expect((await client.listSandboxes({})).sandboxes.map((s) => s.id)).toContain(id);
    expect((await client.deleteSandbox({ sandboxId: id })).deleted).toBe(true);
    await eventually("NOT_FOUND after delete", () =>
      client
        .getSandbox({ sandboxId: id })
        .then(() => undefined)
        .catch((e: unknown) => (ConnectError.from(e).code === Code.NotFound ? true : undefined)),
    );
  });
});
