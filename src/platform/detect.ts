// Which platform the driver runs on: the `--platform` flag, or with `auto` what the API server
// serves. Discovery (/apis) is readable by every authenticated identity (system:discovery); the
// two object reads need RBAC of their own, so a refusal there is reported in the evidence, never
// fatal:
//   config.openshift.io clusterversions, resourceNames [version], verb get   (ClusterRole)
//   "" configmaps, resourceNames [shoot-info], verb get                     (Role in kube-system)
import { isKubeApiError, type KubeClient } from "../kube";
import type { PlatformChoice } from "./settings";
import type { PlatformIdentity } from "./types";

const SECURITY_GROUP = "security.openshift.io";
const CONFIG_GROUP = "config.openshift.io";
const KYMA_GATEWAY_GROUP = "gateway.kyma-project.io";

interface ApiGroupList {
  groups?: { name?: string }[];
}

interface ApiResourceList {
  resources?: { name?: string }[];
}

interface ClusterVersion {
  status?: {
    desired?: { version?: string };
    history?: { state?: string; version?: string }[];
  };
}

interface ConfigMap {
  data?: Record<string, string>;
}

/** What a read the detection can do without came back with. */
type OptionalRead<T> = { found: T } | { missing: true } | { refused: true };

/**
 * Throws when discovery (or a read it depends on) fails for any reason but a 404 or a refusal:
 * a platform guessed from half an answer would amend every sandbox wrongly, so the caller retries.
 */
export async function detectPlatform(client: KubeClient, choice: PlatformChoice): Promise<PlatformIdentity> {
  if (choice !== "auto") {
    const version = choice === "openshift" ? versionOf(await readClusterVersion(client)) : "";
    return { name: choice, evidence: `--platform=${choice}`, version };
  }
  const groups = await client.request<ApiGroupList>({ verb: "get", path: "/apis", resource: "apigroups" });
  const served = new Set(groups.groups?.map((g) => g.name));
  // OpenShift is decided first and wins: a Kyma cluster never serves security.openshift.io, and an
  // OpenShift cluster with the Kyma CRDs installed still admits its pods through SCCs.
  return (await detectOpenShift(client, served)) ?? (await detectKyma(client, served));
}

/**
 * Either sign is enough: MicroShift serves security.openshift.io (SCC admission) but has no
 * ClusterVersion, and the ClusterVersion alone is how OpenShift's own tooling tells a cluster.
 */
async function detectOpenShift(client: KubeClient, served: Set<string | undefined>): Promise<PlatformIdentity | undefined> {
  const servesSecurity = served.has(SECURITY_GROUP);
  const servesClusterVersions = served.has(CONFIG_GROUP) && (await servesResource(client, CONFIG_GROUP, "v1", "clusterversions"));
  if (!servesSecurity && !servesClusterVersions) return undefined;
  const signs = [`served: ${[servesSecurity && SECURITY_GROUP, servesClusterVersions && CONFIG_GROUP].filter(Boolean).join(", ")}`];
  let version = "";
  if (servesClusterVersions) {
    const read = await readClusterVersion(client);
    version = versionOf(read);
    signs.push(
      version !== ""
        ? `ClusterVersion ${version}`
        : "found" in read
          ? "ClusterVersion without a version yet"
          : "missing" in read
            ? "no ClusterVersion version"
            : "ClusterVersion unreadable (403 Forbidden), version unknown",
    );
  }
  return { name: "openshift", evidence: signs.join("; "), version };
}

/**
 * Gardener writes kube-system/shoot-info on every shoot, so it also marks a Gardener cluster
 * without Kyma as Kyma; `--platform kubernetes` is the way out there.
 */
async function detectKyma(client: KubeClient, served: Set<string | undefined>): Promise<PlatformIdentity> {
  const servesApiRules = served.has(KYMA_GATEWAY_GROUP);
  const shootInfo = await readOptional<ConfigMap>(client, {
    path: "/api/v1/namespaces/kube-system/configmaps/shoot-info",
    resource: "configmaps",
    name: "shoot-info",
    namespace: "kube-system",
  });
  const shootInfoSign =
    "found" in shootInfo
      ? `ConfigMap kube-system/shoot-info (domain ${shootInfo.found.data?.domain || "not set"})`
      : "missing" in shootInfo
        ? "no ConfigMap kube-system/shoot-info"
        : // Without the right to read it, its absence is not known: say so rather than guess.
          "ConfigMap kube-system/shoot-info unknown (403 Forbidden on get)";
  if (servesApiRules || "found" in shootInfo) {
    const signs = [...(servesApiRules ? [`served: ${KYMA_GATEWAY_GROUP}`] : []), shootInfoSign];
    return { name: "kyma", evidence: signs.join("; "), version: "" };
  }
  return { name: "kubernetes", evidence: `no OpenShift or Kyma API groups served; ${shootInfoSign}`, version: "" };
}

async function servesResource(client: KubeClient, group: string, version: string, resource: string): Promise<boolean> {
  const read = await readOptional<ApiResourceList>(client, { path: `/apis/${group}/${version}`, resource: "apiresources" });
  return "found" in read && (read.found.resources ?? []).some((r) => r.name === resource);
}

function readClusterVersion(client: KubeClient): Promise<OptionalRead<ClusterVersion>> {
  return readOptional<ClusterVersion>(client, {
    path: `/apis/${CONFIG_GROUP}/v1/clusterversions/version`,
    resource: "clusterversions.config.openshift.io",
    name: "version",
  });
}

/**
 * A GET whose 404 means absent and whose 403 means this identity may not look. A 403 from an API
 * server still loading its authorization is neither: it is thrown like any other failure.
 */
async function readOptional<T>(
  client: KubeClient,
  req: { path: string; resource: string; name?: string; namespace?: string },
): Promise<OptionalRead<T>> {
  try {
    return { found: await client.request<T>({ verb: "get", ...req }) };
  } catch (err) {
    if (isKubeApiError(err, 404)) return { missing: true };
    if (isKubeApiError(err, 403) && err.apiServerReady !== false) return { refused: true };
    throw err;
  }
}

/** `status.desired.version`, else the newest Completed update (`status.history` is newest first). */
function versionOf(read: OptionalRead<ClusterVersion>): string {
  if (!("found" in read)) return "";
  const status = read.found.status;
  return status?.desired?.version || status?.history?.find((h) => h.state === "Completed" && h.version)?.version || "";
}
