import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "../..");
export const DRIVER_BIN = join(REPO, "dist/openshell-driver-k8s");
export const CLUSTER_DIR = join(REPO, ".cache/cluster");
