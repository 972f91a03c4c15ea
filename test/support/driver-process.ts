// Runs the compiled driver binary as a child process on a private socket, the way the gateway
// would, and waits until /readyz says it can serve.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type AddressInfo } from "node:net";
import type { Subprocess } from "bun";
import { DRIVER_BIN } from "./paths";

export interface DriverProcess {
  socket: string;
  healthUrl: string;
  proc: Subprocess;
  logs(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number>;
}

export interface DriverOptions {
  kubeconfig: string;
  namespace?: string;
  gatewayId: string;
  args?: string[];
  env?: Record<string, string>;
  /** Wait for /readyz (default) or only for the socket. */
  waitFor?: "ready" | "socket";
  /**
   * Run the driver in a process group of its own, for a test that stops it with SIGSTOP. When the
   * test runner's group is orphaned (a CI job started in a new session), the kernel sends SIGHUP to
   * every member of that group as soon as any of them exits while one is stopped: a kubectl
   * finishing while the driver is paused would kill it.
   */
  ownProcessGroup?: boolean;
}

/** Execs its arguments in a new process group of the same session (its parent stays outside it). */
const IN_OWN_PROCESS_GROUP = ["python3", "-c", "import os, sys; os.setpgid(0, 0); os.execv(sys.argv[1], sys.argv[1:])"];

async function drain(stream: ReadableStream<Uint8Array>, sink: string[]): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) sink.push(decoder.decode(chunk, { stream: true }));
}

/** A TCP port that was free a moment ago (--health-port=0 means "off", so the harness picks one). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startDriver(opts: DriverOptions): Promise<DriverProcess> {
  if (!existsSync(DRIVER_BIN)) throw new Error(`${DRIVER_BIN} is missing: run \`just build\` first`);
  const dir = mkdtempSync(join(tmpdir(), "osdrv-"));
  const socket = join(dir, "driver.sock");
  // The health port was free when picked, but another process may bind it before the driver does.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(opts, dir, socket);
    } catch (err) {
      if (attempt === 3 || !(err instanceof HealthPortTaken)) throw err;
    }
  }
}

class HealthPortTaken extends Error {}

async function launch(opts: DriverOptions, dir: string, socket: string): Promise<DriverProcess> {
  const output: string[] = [];
  const proc = Bun.spawn(
    [
      ...(opts.ownProcessGroup ? IN_OWN_PROCESS_GROUP : []),
      DRIVER_BIN,
      "serve",
      `--socket=${socket}`,
      `--kubeconfig=${opts.kubeconfig}`,
      `--namespace=${opts.namespace ?? "openshell-system"}`,
      `--gateway-id=${opts.gatewayId}`,
      `--health-port=${await freePort()}`,
      "--health-address=127.0.0.1",
      "--log-format=json",
      "--log-level=debug",
      ...(opts.args ?? []),
    ],
    { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...opts.env } },
  );
  const drained = Promise.all([drain(proc.stdout, output), drain(proc.stderr, output)]);
  const logs = () => output.join("");

  const deadline = Date.now() + 60_000;
  let healthUrl = "";
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) {
      await drained;
      if (logs().includes("the port is in use")) throw new HealthPortTaken(logs());
      throw new Error(`driver exited with ${proc.exitCode}:\n${logs()}`);
    }
    const port = /"msg":"serving health and metrics","address":"127\.0\.0\.1:(\d+)"/.exec(logs())?.[1];
    if (port && existsSync(socket)) {
      healthUrl = `http://127.0.0.1:${port}`;
      if (opts.waitFor === "socket") break;
      const res = await fetch(`${healthUrl}/readyz`).catch(() => undefined);
      if (res?.status === 200) break;
    }
    await Bun.sleep(100);
  }
  if (!healthUrl || Date.now() >= deadline) {
    proc.kill();
    throw new Error(`driver did not become ready:\n${logs()}`);
  }
  return {
    socket,
    healthUrl,
    proc,
    logs,
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      const code = await proc.exited;
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}
