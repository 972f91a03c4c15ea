// Contract tier: how the compiled binary behaves as a process — flags, the socket file, signals.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectClient } from "../support/clients";
import { driverKubeconfig, eventually } from "../support/cluster";
import { startDriver } from "../support/driver-process";
import { DRIVER_BIN } from "../support/paths";

const scratch = mkdtempSync(join(tmpdir(), "osdrv-proc-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A kubeconfig whose API server refuses connections: enough for everything that needs no cluster. */
function unreachableKubeconfig(): string {
  const path = join(scratch, "unreachable.kubeconfig");
  writeFileSync(
    path,
    `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: "t"}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`,
  );
  return path;
}

function run(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawnSync([DRIVER_BIN, ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  return { code: proc.exitCode, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() };
}

describe("driver process", () => {
  test("a bad flag value exits 2 with one line naming the flag, before any socket exists", () => {
    const socket = join(scratch, "bad-flag", "driver.sock");
    for (const [args, flag] of [
      [["--kube-timeout=soon"], "--kube-timeout"],
      [["--supervisor-sideload=hostpath"], "--supervisor-sideload"],
      [["--namespace=Not_DNS"], "--namespace"],
      [["--health-port=70000"], "--health-port"],
      [["--gpu-support=maybe"], "--gpu-support"],
      [["--gpu-support", "maybe"], "--gpu-support"],
      // A switch given alone is true and leaves the next flag to be read (and refused) itself.
      [["--enable-user-namespaces", "--kube-timeout=soon"], "--kube-timeout"],
      [["--no-gpu-support", "--namespace", "Not_DNS"], "--namespace"],
      [["--namespace"], "--namespace"],
      [["--default-image=UPPER CASE"], "--default-image"],
    ] as const) {
      const result = run(["serve", `--socket=${socket}`, ...args]);
      expect({ flag, code: result.code }).toEqual({ flag, code: 2 });
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toContain(flag);
    }
    expect(existsSync(join(scratch, "bad-flag"))).toBe(false);
  });

  test("every flag can come from its OPENSHELL_DRIVER_* variable, and a bad one is named too", () => {
    const result = run(["serve", `--socket=${join(scratch, "env", "d.sock")}`], { OPENSHELL_DRIVER_LOG_FORMAT: "xml" });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--log-format");
  });

  test("an unknown flag, or a stray argument, is refused rather than ignored", () => {
    const result = run(["serve", "--sokcet=/tmp/x.sock"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--sokcet");
    const stray = run(["serve", "--gpu-support=false", "extra"]);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain('"extra"');
  });

  test("--version prints the package version and --help lists the flags with their env vars", () => {
    expect(run(["--version"]).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = run(["serve", "--help"]).stdout;
    expect(help).toContain("--supervisor-sideload");
    expect(help).toContain("OPENSHELL_DRIVER_KUBE_TIMEOUT");
  });

  test("a regular file where the socket should be is refused and left alone", () => {
    const dir = join(scratch, "occupied");
    mkdirSync(dir, { mode: 0o700 });
    const socket = join(dir, "driver.sock");
    writeFileSync(socket, "precious");
    const result = run(["serve", `--socket=${socket}`, `--kubeconfig=${unreachableKubeconfig()}`, "--health-port=0"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("not an owned Unix socket");
    expect(Bun.file(socket).size).toBe(8);
  });

  test("a socket directory writable by others is refused; one behind our own symlink is fine", async () => {
    const open = join(scratch, "world-writable");
    mkdirSync(open, { mode: 0o777 });
    Bun.spawnSync(["chmod", "0777", open]);
    const result = run(["serve", `--socket=${join(open, "d.sock")}`, `--kubeconfig=${unreachableKubeconfig()}`, "--health-port=0"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("writable by group or others");

    const target = join(scratch, "real-dir");
    mkdirSync(target, { mode: 0o700 });
    symlinkSync(target, join(scratch, "link-dir"));
    // A link we own ourselves cannot be re-pointed by anyone else, so it is accepted.
    expect(await startDriverOn(join(scratch, "link-dir", "d.sock"))).toEqual({ caps: "openshell-driver-k8s", code: 0 });
  });

  test("a stale socket left by a dead driver is replaced; a live one is not stolen", async () => {
    const dir = join(scratch, "stale");
    mkdirSync(dir, { mode: 0o700 });
    const socket = join(dir, "driver.sock");
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(socket, resolve));
    const refused = run(["serve", `--socket=${socket}`, `--kubeconfig=${unreachableKubeconfig()}`, "--health-port=0"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("in use by another running process");
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    // A process that dies without closing its server leaves the socket file behind.
    Bun.spawnSync([process.execPath, "-e", `require("net").createServer().listen(${JSON.stringify(socket)}, () => process.exit(0))`]);
    expect(existsSync(socket)).toBe(true);
    const replaced = await startDriverOn(socket);
    expect(replaced.caps).toBe("openshell-driver-k8s");
    expect(replaced.code).toBe(0);
    expect(existsSync(socket)).toBe(false);
  });

  // Root can open any socket file, so the 0600 mode cannot keep it out; the peer-UID check does.
  test.if(process.getuid?.() === 0)("a client running as another user (root) is disconnected by the peer-UID check", async () => {
    const home = mkdtempSync(join(tmpdir(), "osdrv-nobody-"));
    writeFileSync(join(home, "kubeconfig"), readFileSync(unreachableKubeconfig()));
    Bun.spawnSync(["chown", "-R", "65534:65534", home]);
    Bun.spawnSync(["chmod", "0700", home]);
    const socket = join(home, "run", "driver.sock");
    const proc = Bun.spawn(
      ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", DRIVER_BIN, "serve", `--socket=${socket}`, `--kubeconfig=${join(home, "kubeconfig")}`, "--health-port=0"],
      { stdout: "ignore", stderr: "pipe" },
    );
    try {
      for (let i = 0; i < 100 && !existsSync(socket); i++) await Bun.sleep(50);
      expect(existsSync(socket)).toBe(true);
      const err = await connectClient(socket)
        .getCapabilities({})
        .then(() => undefined)
        .catch((e: unknown) => e);
      expect(err).toBeDefined();
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
      rmSync(home, { recursive: true, force: true });
    }
    expect(await new Response(proc.stderr).text()).toContain("rejected a connection from another user");
  });

  test("an old instance's shutdown leaves a newer instance's socket at the same path serving", async () => {
    const dir = join(scratch, "handover");
    mkdirSync(dir, { mode: 0o700 });
    const socket = join(dir, "driver.sock");
    const old = spawnDriverOn(socket);
    let newer: ReturnType<typeof spawnDriverOn> | undefined;
    try {
      await capabilitiesOf(socket);
      // A newer instance takes the path over while the old one still runs (its socket moved aside).
      renameSync(socket, join(dir, "old.sock"));
      newer = spawnDriverOn(socket);
      expect(await capabilitiesOf(socket)).toBe("openshell-driver-k8s");

      old.kill("SIGTERM");
      expect(await old.exited).toBe(0);
      expect(existsSync(socket)).toBe(true);
      expect(await capabilitiesOf(socket)).toBe("openshell-driver-k8s");

      newer.kill("SIGTERM");
      expect(await newer.exited).toBe(0);
      expect(existsSync(socket)).toBe(false);
    } finally {
      old.kill();
      newer?.kill();
    }
  });

  test("a start that fails after binding (its health port taken) says which port and flag, removes its socket and leaves nothing behind", async () => {
    const dir = join(scratch, "failed-start");
    mkdirSync(dir, { mode: 0o700 });
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    try {
      const port = (taken.address() as AddressInfo).port;
      const result = run(["serve", `--socket=${join(dir, "driver.sock")}`, `--kubeconfig=${unreachableKubeconfig()}`, `--health-port=${port}`, "--health-address=127.0.0.1"]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`cannot listen on 127.0.0.1:${port}: the port is in use (--health-address, --health-port; 0 turns it off)`);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  test("SIGTERM ends open watch streams with UNAVAILABLE (so the gateway reconnects), exits 0 and removes the socket", async () => {
    const driver = await startDriver({ kubeconfig: driverKubeconfig(), gatewayId: "sigterm" });
    const client = connectClient(driver.socket);
    const events: unknown[] = [];
    const stream = (async () => {
      for await (const ev of client.watchSandboxes({})) events.push(ev);
      return "ended cleanly";
    })().catch((err: unknown) => ConnectError.from(err));
    // The stream is open once the driver counts it.
    await eventually("the watch stream to be open", async () => {
      const metrics = await (await fetch(`${driver.healthUrl}/metrics`)).text();
      return /^openshell_driver_watch_streams 1$/m.test(metrics) ? true : undefined;
    });
    const code = await driver.stop();
    const ended = await stream;
    expect(ended).toBeInstanceOf(ConnectError);
    expect((ended as ConnectError).code).toBe(Code.Unavailable);
    expect(code).toBe(0);
    expect(existsSync(driver.socket)).toBe(false);
  });
});

/** The binary serving `socket` with no cluster. */
function spawnDriverOn(socket: string) {
  return Bun.spawn([DRIVER_BIN, "serve", `--socket=${socket}`, `--kubeconfig=${unreachableKubeconfig()}`, "--health-port=0", "--log-level=error"], {
    stdout: "ignore",
    stderr: "pipe",
  });
}

/** The driver name GetCapabilities answers on `socket`, waiting for a server to answer ("" if none does). */
async function capabilitiesOf(socket: string): Promise<string> {
  let caps = "";
  for (let i = 0; i < 100 && caps === ""; i++) {
    caps = await connectClient(socket)
      .getCapabilities({})
      .then((c) => c.driverName)
      .catch(() => "");
    if (caps === "") await Bun.sleep(50);
  }
  return caps;
}

/** Starts the binary on a given socket path with no cluster, asks GetCapabilities, stops it. */
async function startDriverOn(socket: string): Promise<{ caps: string; code: number }> {
  const proc = spawnDriverOn(socket);
  // A stale file may exist before start; wait until the new server answers.
  const caps = await capabilitiesOf(socket);
  proc.kill("SIGTERM");
  return { caps, code: await proc.exited };
}
