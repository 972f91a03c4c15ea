import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "../..");
export const DRIVER_BIN = join(REPO, "dist/openshell-driver-k8s");
/** A `DEFAULT_…=value` line of cluster/versions.env. */
function versionDefault(name: string): string {
  return new RegExp(`^DEFAULT_${name}=(\\S+)`, "m").exec(readFileSync(join(REPO, "cluster/versions.env"), "utf8"))?.[1] ?? "";
}

/**
 * The local control plane under test, found as cluster/lib.sh's cluster_dir_for finds it (the
 * cluster scripts the tests call read the same variables): CLUSTER_DIR, else the directory of the
 * K8S_VERSION / AGENT_SANDBOX_VERSION pair (`just test-matrix`), else the default pair's.
 */
function clusterDir(): string {
  if (process.env.CLUSTER_DIR) return process.env.CLUSTER_DIR;
  const k8s = process.env.K8S_VERSION || versionDefault("K8S_VERSION");
  const agentSandbox = process.env.AGENT_SANDBOX_VERSION || versionDefault("AGENT_SANDBOX_VERSION");
  if (k8s === versionDefault("K8S_VERSION") && agentSandbox === versionDefault("AGENT_SANDBOX_VERSION")) return join(REPO, ".cache/cluster");
  return join(REPO, `.cache/cluster-${k8s}-agent-sandbox-${agentSandbox}`);
}

export const CLUSTER_DIR = clusterDir();
