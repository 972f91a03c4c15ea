// Access to the local control plane started by `just cluster-up` (cluster/up.sh). Tests fail
// loudly when it is not up: an e2e test that silently skips proves nothing.
import { test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CLUSTER_DIR, REPO } from "./paths";

export interface ClusterState {
  kubeconfig: string;
  binDir: string;
  apiserverUrl: string;
  /** The Kubernetes and agent-sandbox releases this cluster runs (cluster/versions.env). */
  k8sVersion: string;
  agentSandboxVersion: string;
  /** Whether agent-sandbox serves v1alpha1 through its conversion webhook (v0.5.x; v1.0 serves v1beta1 only). */
  conversionWebhook: boolean;
}

export function clusterState(): ClusterState {
  const stateFile = join(CLUSTER_DIR, "state.env");
  if (!existsSync(stateFile)) {
    throw new Error(`no local cluster (${stateFile} is missing): run \`just cluster-up\` first`);
  }
  const vars: Record<string, string> = {};
  for (const line of readFileSync(stateFile, "utf8").split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) vars[m[1]!] = m[2]!.replace(/^'(.*)'$/, "$1");
  }
  return {
    kubeconfig: vars.KUBECONFIG!,
    binDir: vars.BIN_DIR!,
    apiserverUrl: vars.APISERVER_URL!,
    k8sVersion: vars.K8S_VERSION ?? "",
    // A state.env written before agent-sandbox's version was recorded ran v0.5.6.
    agentSandboxVersion: vars.AGENT_SANDBOX_VERSION ?? "v0.5.6",
    conversionWebhook: (vars.SANDBOX_CONVERSION_WEBHOOK ?? "1") === "1",
  };
}

/** The minor of the cluster's Kubernetes release (36 for v1.36.4). */
export function k8sMinor(): number {
  return Number(/^v1\.(\d+)\./.exec(clusterState().k8sVersion)?.[1] ?? 0);
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

/**
 * Each workspace mode's and platform's least-privileged identity: its ServiceAccount and the
 * manifests that grant it (a platform's rules add to shared mode's).
 */
export const DRIVER_IDENTITIES = {
  shared: { serviceAccount: "openshell-driver", rbac: ["deploy/rbac.yaml"], kubeconfig: "driver.kubeconfig" },
  managed: { serviceAccount: "openshell-driver-managed", rbac: ["deploy/rbac-managed.yaml"], kubeconfig: "driver-managed.kubeconfig" },
  operator: { serviceAccount: "openshell-driver-operator", rbac: ["deploy/rbac-operator.yaml"], kubeconfig: "driver-operator.kubeconfig" },
  openshift: { serviceAccount: "openshell-driver", rbac: ["deploy/rbac.yaml", "deploy/rbac-openshift.yaml"], kubeconfig: "driver-openshift.kubeconfig" },
  kyma: { serviceAccount: "openshell-driver", rbac: ["deploy/rbac.yaml", "deploy/rbac-kyma.yaml"], kubeconfig: "driver-kyma.kubeconfig" },
} as const;

/** A token kubeconfig for the driver's ServiceAccount in `mode`, bound to exactly that mode's manifests. */
export function driverKubeconfig(mode: keyof typeof DRIVER_IDENTITIES = "shared"): string {
  const identity = DRIVER_IDENTITIES[mode];
  const out = join(CLUSTER_DIR, identity.kubeconfig);
  const manifests = identity.rbac.map((file) => join(REPO, file)).join(",");
  const proc = Bun.spawnSync(
    ["bash", join(REPO, "cluster/driver-kubeconfig.sh"), identity.serviceAccount, manifests, out],
    { stdout: "pipe", stderr: "pipe" },
  );
  if (proc.exitCode !== 0) throw new Error(`driver-kubeconfig.sh failed: ${proc.stderr.toString()}`);
  return out;
}

export function apiserver(action: "stop" | "start"): void {
  const proc = Bun.spawnSync(["bash", join(REPO, "cluster/apiserver.sh"), action], { stdout: "pipe", stderr: "pipe" });
  if (proc.exitCode !== 0) throw new Error(`apiserver.sh ${action} failed: ${proc.stderr.toString()}`);
}

/**
 * Restarts the control plane's controllers (not kube-apiserver, not the driver under test): after
 * many API-server restarts their list/watch backoff makes a new pod wait minutes (cluster/controllers.sh).
 */
export function restartControllers(): void {
  const proc = Bun.spawnSync(["bash", join(REPO, "cluster/controllers.sh"), "restart"], { stdout: "pipe", stderr: "pipe" });
  if (proc.exitCode !== 0) throw new Error(`controllers.sh restart failed: ${proc.stderr.toString()}`);
}

/**
 * Polls every `intervalMs` until `check` returns a value (not undefined), or fails with `what` and
 * the last error seen. Against the cluster every 200 ms; in-process fakes can be polled faster.
 */
export async function eventually<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await Bun.sleep(intervalMs);
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ""}`);
}

/**
 * Waits until `user` may `verb` `resource` (in `namespace`): kube-apiserver authorizes from a cache
 * of Roles and bindings that follows their writes by a moment, so a call made right after a grant
 * can still be refused.
 */
export function untilAllowed(user: string, verb: string, resource: string, namespace?: string): void {
  const deadline = Date.now() + 30_000;
  const args = ["auth", "can-i", verb, resource, ...(namespace ? ["-n", namespace] : []), "--as", user];
  while (kubectl(args, { allowFailure: true }).trim() !== "yes") {
    if (Date.now() > deadline) throw new Error(`${user} still may not ${verb} ${resource}${namespace ? ` in ${namespace}` : ""} after 30 s`);
    Bun.sleepSync(200);
  }
}

/** The user name a ServiceAccount authenticates as. */
export function serviceAccountUser(name: string, namespace = "openshell-system"): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/**
 * Lets the shared-mode driver identity work in another namespace, as an admin would for a driver
 * started with `--namespace <namespace>`: deploy/rbac.yaml's Role copied there (a RoleBinding can
 * only name a Role of its own namespace) and bound to the same ServiceAccount; returns once the
 * grant is in force.
 */
export function grantDriverRoleIn(namespace: string): void {
  const { serviceAccount } = DRIVER_IDENTITIES.shared;
  const role = kubectlJson<{ rules: unknown[] }>(["get", "role", serviceAccount, "-n", "openshell-system"]);
  kubectl(["apply", "-f", "-"], {
    input: JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      items: [
        { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: serviceAccount, namespace }, rules: role.rules },
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "RoleBinding",
          metadata: { name: serviceAccount, namespace },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: serviceAccount },
          subjects: [{ kind: "ServiceAccount", name: serviceAccount, namespace: "openshell-system" }],
        },
      ],
    }),
  });
  untilAllowed(serviceAccountUser(serviceAccount), "list", "sandboxes.agents.x-k8s.io", namespace);
}

/** One object, or undefined when it does not exist. */
export function kubectlGetOptional<T = any>(args: string[]): T | undefined {
  const out = kubectl(["get", ...args, "--ignore-not-found", "-o", "json"]);
  return out.trim() === "" ? undefined : (JSON.parse(out) as T);
}

/**
 * Installs a platform flavour into the local control plane (cluster/platform.sh; `kubernetes`
 * removes the others) and returns the flavour it reports.
 */
export function installPlatformFlavour(platform: "kubernetes" | "openshift" | "kyma"): string {
  const proc = Bun.spawnSync(["bash", join(REPO, "cluster/platform.sh"), platform], { stdout: "pipe", stderr: "pipe" });
  if (proc.exitCode !== 0) throw new Error(`platform.sh ${platform} failed: ${proc.stderr.toString()}`);
  return proc.stdout.toString().trim();
}

/** Removes what a platform's RBAC manifest granted, so later tests run with shared mode's rules only. */
export function revokePlatformRules(platform: "openshift" | "kyma"): void {
  kubectl(["delete", "--ignore-not-found", "-f", join(REPO, `deploy/rbac-${platform}.yaml`)], { allowFailure: true });
}

/**
 * A test that only makes sense on some Kubernetes or agent-sandbox versions: registered as usual
 * where `applies`, elsewhere skipped with its name saying why (never silently).
 */
export function testWhere(applies: boolean, reason: string): (name: string, fn: () => Promise<void> | void, timeoutMs?: number) => void {
  return (name, fn, timeoutMs) => (applies ? test(name, fn, timeoutMs) : test.skip(`${name} [skipped: ${reason}]`, fn, timeoutMs));
}
