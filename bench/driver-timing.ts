// The compiled driver started the way the gateway starts it, timed from spawn: when its socket is
// bound, and when a ListSandboxes first answers with every sandbox (the UNAVAILABLE answers
// before that are counted). Memory comes from /proc: VmRSS now, VmHWM the high-water mark.
import { Code, ConnectError } from "@connectrpc/connect";
import type { Subprocess } from "bun";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectClient } from "../test/support/clients";
import { freePort } from "../test/support/driver-process";
import { DRIVER_BIN } from "../test/support/paths";

/** BENCH_DRIVER_BIN compares another build (e.g. one built with --compile-exec-argv=--smol). */
const BINARY = process.env.BENCH_DRIVER_BIN ?? DRIVER_BIN;

export interface TimedDriver {
  socket: string;
  proc: Subprocess;
  /** performance.now() when the process was spawned. */
  spawnedAt: number;
  /** ms from spawn until the socket file exists. */
  socketBoundMs: number;
  stop(): Promise<void>;
}

export interface ServedTiming {
  /** ms from spawn until ListSandboxes returned `want` sandboxes. */
  servedMs: number;
  unavailable: number;
  /** Answers that came back OK but short of `want`. */
  partial: number;
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0), so the next reading is the peak since now. */
export function resetHighWater(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, "5");
}

export function memoryMiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]);
  return { rss: kib("VmRSS") / 1024, hwm: kib("VmHWM") / 1024 };
}

export async function spawnDriver(kubeconfig: string, gatewayId: string, namespace: string, binary = BINARY): Promise<TimedDriver> {
  const healthPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "osdrv-bench-"));
  const socket = join(dir, "driver.sock");
  const spawnedAt = performance.now();
  const proc = Bun.spawn(
    [binary, "serve", `--socket=${socket}`, `--kubeconfig=${kubeconfig}`, `--namespace=${namespace}`, `--gateway-id=${gatewayId}`, `--health-port=${healthPort}`, "--health-address=127.0.0.1", "--log-level=warn"],
    { stdout: "ignore", stderr: "pipe" },
  );
  const stderr = new Response(proc.stderr).text();
  const deadline = performance.now() + 60_000;
  while (!existsSync(socket)) {
    if (proc.exitCode !== null) throw new Error(`driver exited with ${proc.exitCode}: ${await stderr}`);
    if (performance.now() > deadline) {
      proc.kill();
      throw new Error(`driver bound no socket in 60 s: ${await stderr}`);
    }
    await Bun.sleep(2);
  }
  const socketBoundMs = performance.now() - spawnedAt;
  return {
    socket,
    proc,
    spawnedAt,
    socketBoundMs,
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function waitUntilServed(driver: TimedDriver, want: number, timeoutMs = 300_000): Promise<ServedTiming> {
  const client = connectClient(driver.socket);
  let unavailable = 0;
  let partial = 0;
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    try {
      const reply = await client.listSandboxes({});
      if (reply.sandboxes.length === want) return { servedMs: performance.now() - driver.spawnedAt, unavailable, partial };
      partial++;
    } catch (err) {
      if (!(err instanceof ConnectError) || err.code !== Code.Unavailable) throw err;
      unavailable++;
    }
    await Bun.sleep(5);
  }
  throw new Error(`ListSandboxes never returned ${want} sandboxes in ${timeoutMs} ms (${unavailable} UNAVAILABLE, ${partial} short answers)`);
}
