// cluster/lib.sh starts each control-plane process through setsid and records its pid; the waits
// after it (wait_for, stop_component) tell a process still starting from one that exited by what
// that pid runs. Here lib.sh's own functions run against a scratch cluster directory, with a copy of
// `sleep` standing in for kube-apiserver and a setsid in PATH that takes its time before it execs,
// as a loaded machine does: no control-plane process is touched. The last test reads a stand-in
// controller's help as up.sh does to tell agent-sandbox releases apart.
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "../support/paths";

const which = (tool: string) => Bun.spawnSync(["bash", "-c", `command -v ${tool}`], { stdout: "pipe" }).stdout.toString().trim();
const SETSID = which("setsid");
const SLEEP = which("sleep");

let scratch = "";
afterEach(() => {
  // The stand-in runs in a session of its own; end it by the pid the script recorded.
  const state = scratch ? readFileSync(join(scratch, "cluster", "state.env"), { flag: "a+" }).toString() : "";
  const pid = /^APISERVER_PID=(\d+)$/m.exec(state)?.[1];
  if (pid) Bun.spawnSync(["kill", pid]);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = "";
});

/** Runs `script` after sourcing lib.sh, with a setsid that does `before` and then execs the real one. */
function runWithSetsid(before: string, script: string) {
  scratch = mkdtempSync(join(tmpdir(), "osdrv-cluster-start-"));
  const bin = join(scratch, "bin");
  const wrappers = join(scratch, "wrappers");
  mkdirSync(bin);
  mkdirSync(wrappers);
  copyFileSync(SLEEP, join(bin, "kube-apiserver"));
  writeFileSync(join(wrappers, "setsid"), `#!/bin/bash\n${before}\nexec ${SETSID} "$@"\n`);
  chmodSync(join(wrappers, "setsid"), 0o755);
  const proc = Bun.spawnSync(["bash", "-euo", "pipefail", "-c", `source ${join(REPO, "cluster/lib.sh")}\n${script}`], {
    env: { ...process.env, PATH: `${wrappers}:${process.env.PATH}`, CLUSTER_DIR: join(scratch, "cluster"), CLUSTER_BIN: bin, CLUSTER_LOCK_HELD: "1" },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: proc.exitCode, stderr: proc.stderr.toString(), state: readFileSync(join(scratch, "cluster", "state.env"), { flag: "a+" }).toString() };
}

describe("cluster/lib.sh start_component", () => {
  test("a component whose setsid is slow to exec is waited for, not reported as exited while its readiness is pending", () => {
    // Readiness (the marker file) comes a second after the start; setsid execs the binary after 0.7 s.
    const { code, stderr, state } = runWithSetsid(
      "sleep 0.7",
      `marker="$CLUSTER_DIR/ready"
       (sleep 1; touch "$marker") &
       start_component kube-apiserver 30
       wait_for kube-apiserver 20 "the marker file" test -e "$marker"
       pid_matches "$APISERVER_PID" kube-apiserver`,
    );
    expect(stderr).not.toContain("exited");
    expect(code).toBe(0);
    expect(state).toMatch(/^APISERVER_PID=\d+$/m);
  });

  test("a component that exits before it runs its binary is reported with its exit status, and no pid is recorded", () => {
    const { code, stderr, state } = runWithSetsid("echo 'no such flag' >&2; exit 3", "start_component kube-apiserver 30");
    expect(code).not.toBe(0);
    expect(stderr).toContain("kube-apiserver (pid");
    expect(stderr).toContain("exited with status 3 as it started");
    expect(stderr).toContain("no such flag");
    expect(state).not.toMatch(/^APISERVER_PID=\d+$/m);
  });
});

describe("cluster/lib.sh controller_has_webhook", () => {
  test("a controller that names --enable-webhook early in a long help text is found to serve the webhook every time", () => {
    scratch = mkdtempSync(join(tmpdir(), "osdrv-cluster-help-"));
    mkdirSync(join(scratch, "cluster"));
    // As Go's flag package prints it: one write a line, many lines after the one that matters.
    const controller = join(scratch, "agent-sandbox-controller");
    writeFileSync(controller, `#!/bin/bash\necho "  -enable-webhook" >&2\nfor i in $(seq 2000); do echo "  -flag-$i string" >&2; done\nexit 0\n`);
    chmodSync(controller, 0o755);
    const proc = Bun.spawnSync(
      ["bash", "-euo", "pipefail", "-c", `source ${join(REPO, "cluster/lib.sh")}\nfor i in 1 2 3 4 5 6 7 8 9 10; do controller_has_webhook; done`],
      { env: { ...process.env, CLUSTER_DIR: join(scratch, "cluster"), SANDBOX_CONTROLLER_BIN: scratch, CLUSTER_LOCK_HELD: "1" }, stdout: "pipe", stderr: "pipe" },
    );
    expect(proc.stderr.toString()).toBe("");
    expect(proc.exitCode).toBe(0);
  });
});
