// Every Kubernetes permission the driver uses, in one table: which feature needs it, when the
// configuration turns that feature on, and the manifest that grants it. The rows mirror
// deploy/rbac*.yaml, which the e2e tests run the driver under, so a rule the driver needs and a
// row here go together.
import type { Config } from "../config";
import type { PlatformName } from "../platform/settings";

export interface RbacRule {
  verbs: string[];
  /** "" = the core group. */
  group: string;
  /** `resource` or `resource/subresource`. */
  resource: string;
  /** Only this object (RBAC resourceNames). */
  name?: string;
  /** undefined = cluster scope. */
  namespace?: string;
  /** The feature, in a user's words. */
  feature: string;
  /** Without it serve still runs, with the feature degraded: a WARN, not a FAIL. */
  optional?: true;
  /** The manifest and object that grant it, e.g. `deploy/rbac.yaml (Role openshell-driver)`. */
  manifest: string;
}

interface RuleInput {
  config: Config;
  /** The detected platform; undefined when detection failed (platform rows are then left out). */
  platform: PlatformName | undefined;
}

const SHARED_ROLE = "deploy/rbac.yaml (Role openshell-driver)";
const SHARED_CLUSTER_READS = "deploy/rbac.yaml (ClusterRole openshell-driver-cluster-reads)";
const MANAGED = "deploy/rbac-managed.yaml (ClusterRole openshell-driver-managed)";
const MANAGED_SECRETS = "deploy/rbac-managed.yaml (Role openshell-driver-managed-secret-sources)";
const OPERATOR = "deploy/rbac-operator.yaml (ClusterRole openshell-driver-operator)";
const OPERATOR_SECRETS = "deploy/rbac-operator.yaml (Role openshell-driver-operator-secret-sources)";
const OPENSHIFT = "deploy/rbac-openshift.yaml (ClusterRole openshell-driver-openshift)";
const OPENSHIFT_EXPOSE = "deploy/rbac-openshift.yaml (Role openshell-driver-openshift)";
const KYMA = "deploy/rbac-kyma.yaml (ClusterRole openshell-driver-kyma)";
const KYMA_SHOOT_INFO = "deploy/rbac-kyma.yaml (Role openshell-driver-kyma-shoot-info)";
const KYMA_EXPOSE = "deploy/rbac-kyma.yaml (Role openshell-driver-kyma)";

const SANDBOXES = { group: "agents.x-k8s.io", resource: "sandboxes" };

/** The rules this configuration uses on this platform, in manifest order. */
export function rbacRules({ config, platform }: RuleInput): RbacRule[] {
  const { render, platform: settings } = config;
  const ns = render.namespace;
  const gpuReads = render.gpuSupport && render.gpuCapacityCheck !== "off";
  const rules: RbacRule[] = [];
  const add = (when: boolean, rule: RbacRule) => {
    if (when) rules.push(rule);
  };

  if (render.workspaceMode === "shared") {
    // Lookups by id, the list+watch cache, and Create/Stop/Delete of the Sandbox CRs.
    add(true, { verbs: ["get", "list", "watch", "create", "patch", "delete"], ...SANDBOXES, namespace: ns, feature: "Sandbox CRs (cache, create, stop, delete)", manifest: SHARED_ROLE });
    // The sandbox pods' cache (status, endpoints) and StopSandbox.
    add(true, { verbs: ["get", "list", "watch"], group: "", resource: "pods", namespace: ns, feature: "the sandbox pods' cache", manifest: SHARED_ROLE });
    // Kubernetes events on WatchSandboxes; without them /readyz says degraded and all else works.
    add(true, { verbs: ["list", "watch"], group: "", resource: "events", namespace: ns, feature: "platform events on WatchSandboxes", optional: true, manifest: SHARED_ROLE });
    // ValidateSandboxCreate: volumes a sandbox mounts exist.
    add(true, { verbs: ["get"], group: "", resource: "persistentvolumeclaims", namespace: ns, feature: "checking claims a sandbox mounts", manifest: SHARED_ROLE });
    // The pod feature check: a dry-run PodTemplate create (stores nothing, starts nothing).
    add(true, { verbs: ["create"], group: "", resource: "podtemplates", namespace: ns, feature: "the pod feature check (dry run)", manifest: SHARED_ROLE });
    // GPU capacity: every node's allocatable GPUs and the pods (any namespace) holding some.
    add(gpuReads, { verbs: ["list"], group: "", resource: "nodes", feature: "the GPU capacity check", manifest: SHARED_CLUSTER_READS });
    add(gpuReads, { verbs: ["list"], group: "", resource: "pods", feature: "the GPU capacity check", manifest: SHARED_CLUSTER_READS });
    // ValidateSandboxCreate: the runtime and priority classes a sandbox names exist.
    add(true, { verbs: ["get"], group: "node.k8s.io", resource: "runtimeclasses", feature: "checking a sandbox's runtime class", manifest: SHARED_CLUSTER_READS });
    add(true, { verbs: ["get"], group: "scheduling.k8s.io", resource: "priorityclasses", feature: "checking a sandbox's priority class", manifest: SHARED_CLUSTER_READS });
    // The namespace's OpenShift UID/GID ranges (sandbox identity; falls back to 1000 without it).
    // OpenShift and Kyma need it unconditionally: their rows below.
    add(platform === "kubernetes", { verbs: ["get"], group: "", resource: "namespaces", name: ns, feature: "the namespace's UID range and Pod Security label", optional: true, manifest: SHARED_CLUSTER_READS });
  }

  if (render.workspaceMode === "managed") {
    // EnsureWorkspace / DeleteWorkspace, and the ranges every workspace namespace inherits.
    add(true, { verbs: ["get", "create", "delete"], group: "", resource: "namespaces", feature: "workspace namespaces", manifest: MANAGED });
    add(true, { verbs: ["get", "list", "watch", "create", "patch", "delete"], ...SANDBOXES, feature: "Sandbox CRs in workspace namespaces", manifest: MANAGED });
    add(true, { verbs: ["list", "watch"], group: "", resource: "pods", feature: "the sandbox pods' cache and the GPU capacity check", manifest: MANAGED });
    add(true, { verbs: ["list", "watch"], group: "", resource: "events", feature: "platform events on WatchSandboxes", optional: true, manifest: MANAGED });
    // What each workspace namespace gets (server-side apply: create, then patch).
    add(true, { verbs: ["create"], group: "", resource: "serviceaccounts", feature: "the sandbox ServiceAccount in each workspace", manifest: MANAGED });
    add(true, { verbs: ["create", "patch"], group: "", resource: "secrets", feature: "Secret copies in each workspace", manifest: MANAGED });
    const policies = render.managedSshIngress.enabled || render.managedSshIngress.sandboxPolicy;
    add(policies, { verbs: ["create", "patch"], group: "networking.k8s.io", resource: "networkpolicies", feature: "--managed-ssh-ingress-enabled / --managed-sandbox-network-policy", manifest: MANAGED });
    add(true, { verbs: ["get"], group: "", resource: "persistentvolumeclaims", feature: "checking claims a sandbox mounts", manifest: MANAGED });
    add(gpuReads, { verbs: ["list"], group: "", resource: "nodes", feature: "the GPU capacity check", manifest: MANAGED });
    add(true, { verbs: ["get"], group: "node.k8s.io", resource: "runtimeclasses", feature: "checking a sandbox's runtime class", manifest: MANAGED });
    add(true, { verbs: ["get"], group: "scheduling.k8s.io", resource: "priorityclasses", feature: "checking a sandbox's priority class", manifest: MANAGED });
    // The sources of the Secrets copied into every workspace, each by name: the chart grants them
    // by resourceNames when it knows the names.
    for (const name of secretSources(render.imagePullSecrets, render.clientTlsSecretName)) {
      add(true, { verbs: ["get"], group: "", resource: "secrets", namespace: ns, name, feature: "--image-pull-secrets / --client-tls-secret-name sources", manifest: MANAGED_SECRETS });
    }
    add(true, { verbs: ["create"], group: "", resource: "podtemplates", namespace: ns, feature: "the pod feature check (dry run)", manifest: MANAGED_SECRETS });
  }

  if (render.workspaceMode === "operator") {
    // Cluster-wide reads only; writes are granted per workspace namespace by its operator.
    add(true, { verbs: ["get"], group: "", resource: "namespaces", feature: "checking workspace namespaces exist", manifest: OPERATOR });
    add(true, { verbs: ["get", "list", "watch"], ...SANDBOXES, feature: "the Sandbox cache across workspaces", manifest: OPERATOR });
    add(true, { verbs: ["list", "watch"], group: "", resource: "pods", feature: "the sandbox pods' cache and the GPU capacity check", manifest: OPERATOR });
    add(gpuReads, { verbs: ["list"], group: "", resource: "nodes", feature: "the GPU capacity check", manifest: OPERATOR });
    add(true, { verbs: ["get"], group: "node.k8s.io", resource: "runtimeclasses", feature: "checking a sandbox's runtime class", manifest: OPERATOR });
    add(true, { verbs: ["get"], group: "scheduling.k8s.io", resource: "priorityclasses", feature: "checking a sandbox's priority class", manifest: OPERATOR });
    add(render.clientTlsSecretName !== "", { verbs: ["get"], group: "", resource: "secrets", namespace: ns, name: render.clientTlsSecretName, feature: "the --client-tls-secret-name source", manifest: OPERATOR_SECRETS });
    add(true, { verbs: ["create"], group: "", resource: "podtemplates", namespace: ns, feature: "the pod feature check (dry run)", manifest: OPERATOR_SECRETS });
  }

  if (platform === "openshift") {
    // The cluster's version for the start log, /readyz and the platform metric.
    add(true, { verbs: ["get"], group: "config.openshift.io", resource: "clusterversions", name: "version", feature: "the OpenShift version", optional: true, manifest: OPENSHIFT });
    // The SCC sandbox pods are pinned to, and whether their ServiceAccount may use it.
    add(true, { verbs: ["get"], group: "security.openshift.io", resource: "securitycontextconstraints", name: settings.openshiftScc, feature: "checking pods fit --openshift-scc", manifest: OPENSHIFT });
    add(true, { verbs: ["create"], group: "authorization.k8s.io", resource: "subjectaccessreviews", feature: "checking the sandbox ServiceAccount may use the SCC", manifest: OPENSHIFT });
    // Every workspace namespace's UID/GID ranges and SELinux level shape its pods.
    add(true, { verbs: ["get"], group: "", resource: "namespaces", feature: "the namespace's UID/GID ranges and SELinux level", manifest: OPENSHIFT });
    const route = settings.expose === "route" && render.workspaceMode === "shared";
    add(route, { verbs: ["create"], group: "", resource: "services", namespace: ns, feature: "--expose=route", manifest: OPENSHIFT_EXPOSE });
    add(route, { verbs: ["create"], group: "route.openshift.io", resource: "routes", namespace: ns, feature: "--expose=route", manifest: OPENSHIFT_EXPOSE });
    add(route && settings.routeDomain !== "", { verbs: ["create"], group: "route.openshift.io", resource: "routes/custom-host", namespace: ns, feature: "--route-domain", manifest: OPENSHIFT_EXPOSE });
    add(route, { verbs: ["create"], group: "", resource: "events", namespace: ns, feature: "Warning events when an exposure fails", optional: true, manifest: OPENSHIFT_EXPOSE });
    add(route && settings.openshiftOauthProxy, { verbs: ["create"], group: "", resource: "secrets", namespace: ns, feature: "--openshift-oauth-proxy cookie Secrets", manifest: OPENSHIFT_EXPOSE });
    add(route && settings.openshiftOauthProxy, { verbs: ["patch"], group: "", resource: "serviceaccounts", name: render.serviceAccountName || "default", namespace: ns, feature: "--openshift-oauth-proxy redirect annotations", manifest: OPENSHIFT_EXPOSE });
  }

  if (platform === "kyma") {
    // Every sandbox namespace's Pod Security label is checked against what its pods need.
    add(true, { verbs: ["get"], group: "", resource: "namespaces", feature: "checking namespaces' Pod Security level", manifest: KYMA });
    // The public domain for VirtualService hosts (falls back to local.kyma.dev without it).
    add(settings.expose === "virtualservice" && settings.clusterDomain === "", { verbs: ["get"], group: "", resource: "configmaps", name: "shoot-info", namespace: "kube-system", feature: "the cluster domain from shoot-info", optional: true, manifest: KYMA_SHOOT_INFO });
    const exposed = (settings.expose === "apirule" || settings.expose === "virtualservice") && render.workspaceMode === "shared";
    add(exposed, { verbs: ["create"], group: "", resource: "services", namespace: ns, feature: `--expose=${settings.expose}`, manifest: KYMA_EXPOSE });
    add(exposed, { verbs: ["create"], group: "networking.k8s.io", resource: "networkpolicies", namespace: ns, feature: `--expose=${settings.expose}`, manifest: KYMA_EXPOSE });
    add(exposed && settings.expose === "apirule", { verbs: ["create"], group: "gateway.kyma-project.io", resource: "apirules", namespace: ns, feature: "--expose=apirule", manifest: KYMA_EXPOSE });
    add(exposed && settings.expose === "virtualservice", { verbs: ["create"], group: "networking.istio.io", resource: "virtualservices", namespace: ns, feature: "--expose=virtualservice", manifest: KYMA_EXPOSE });
    add(exposed, { verbs: ["create"], group: "", resource: "events", namespace: ns, feature: "Warning events when an exposure fails", optional: true, manifest: KYMA_EXPOSE });
  }
  return rules;
}

/** `sandboxes.agents.x-k8s.io`, `pods`: the resource as kubectl names it. */
export function qualifiedResource(rule: Pick<RbacRule, "group" | "resource">): string {
  return rule.group === "" ? rule.resource : `${rule.resource.replace(/\/.*/, "")}.${rule.group}${rule.resource.includes("/") ? rule.resource.slice(rule.resource.indexOf("/")) : ""}`;
}

/** The RBAC rule as it reads in a manifest, with only `verbs` (the denied ones). */
export function ruleYaml(rule: RbacRule, verbs: string[]): string {
  const names = rule.name !== undefined ? `, resourceNames: [${rule.name}]` : "";
  return `{apiGroups: ["${rule.group}"], resources: [${rule.resource}]${names}, verbs: [${verbs.join(", ")}]}`;
}

/** The Secret names the driver reads in its namespace to copy them, each once. */
function secretSources(imagePullSecrets: readonly string[], clientTlsSecretName: string): string[] {
  return [...new Set([...imagePullSecrets.map((n) => n.trim()), clientTlsSecretName].filter((n) => n !== ""))];
}
