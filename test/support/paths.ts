import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "../..");
export const DRIVER_BIN = join(REPO, "dist/openshell-driver-k8s");
/**
 * The local control plane under test: the default pair's, or the one `just test-matrix` names
 * (cluster/lib.sh's cluster_dir_for; the cluster scripts the tests call read the same variable).
 */
export const CLUSTER_DIR = process.env.CLUSTER_DIR || join(REPO, ".cache/cluster");
