// Access to the local control plane started by `just cluster-up` (cluster/up.sh). Tests fail
// loudly when it is not up: an e2e test that silently skips proves nothing.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CLUSTER_DIR, REPO } from "./paths";

export interface ClusterState {
  kubeconfig: string;
  binDir: string;
  apiserverUrl: string;
}

export function clusterState(): ClusterState {
  const stateFile = join(CLUSTER_DIR, "state.env");
  if (!existsSync(stateFile)) {
    throw new Error(`no local cluster (${stateFile} is missing): run \`just cluster-up\` first`);
  }
  const vars: Record<string, string> = {};
  for (const line of readFileSync(stateFile, "utf8").split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m) vars[m[1]!] = m[2]!.replace(/^'(.*)'$/, "$1");
  }
  return { kubeconfig: vars.KUBECONFIG!, binDir: vars.BIN_DIR!, apiserverUrl: vars.APISERVER_URL! };
}

export function kubectl(args: string[], opts: { input?: string; allowFailure?: boolean } = {}): string {
  const state = clusterState();
  const proc = Bun.spawnSync([join(state.binDir, "kubectl"), "--kubeconfig", state.kubeconfig, ...args], {
    stdin: opts.input === undefined ? "ignore" : Buffer.from(opts.input),
    stdout: "pipe",
    stderr: "pipe",
  });
  if (proc.exitCode !== 0 && !opts.allowFailure) {
    throw new Error(`kubectl ${args.join(" ")} failed: ${proc.stderr.toString()}`);
  }
  return proc.stdout.toString();
}

export function kubectlJson<T = any>(args: string[]): T {
  return JSON.parse(kubectl([...args, "-o", "json"])) as T;
}

/** A token kubeconfig for the driver's ServiceAccount, bound to exactly deploy/rbac.yaml. */
export function driverKubeconfig(): string {
  const out = join(CLUSTER_DIR, "driver.kubeconfig");
  const proc = Bun.spawnSync(
    ["bash", join(REPO, "cluster/driver-kubeconfig.sh"), "openshell-driver", join(REPO, "deploy/rbac.yaml"), out],
    { stdout: "pipe", stderr: "pipe" },
  );
  if (proc.exitCode !== 0) throw new Error(`driver-kubeconfig.sh failed: ${proc.stderr.toString()}`);
  return out;
}

export function apiserver(action: "stop" | "start"): void {
  const proc = Bun.spawnSync(["bash", join(REPO, "cluster/apiserver.sh"), action], { stdout: "pipe", stderr: "pipe" });
  if (proc.exitCode !== 0) throw new Error(`apiserver.sh ${action} failed: ${proc.stderr.toString()}`);
}

/** Polls until `check` returns a value (not undefined), or fails with `what` and the last value seen. */
export async function eventually<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await Bun.sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ""}`);
}
