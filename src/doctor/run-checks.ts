// The doctor's checks in their order, each independent of the others' outcome, except that
// nothing cluster-side runs without credentials and an API server that answers /version.
import type { Config } from "../config";
import { KubeClient, loadKubeAccess, type KubeAccess, type LoadKubeAccessOptions } from "../kube";
import type { SandboxApiVersion } from "../sandbox/settings";
import { admissionFenceCheck } from "./admission-fence-check";
import { fail, messageOf, pass, type CheckResult, type ClusterContext } from "./checks";
import { serverVersionOf } from "../driver/pod-feature-probe";
import { controllerCheck, gpuNodesCheck, namespaceCheck, readNamespace, sandboxApiCheck, servedSandboxVersions } from "./cluster-checks";
import { podFeaturesCheck, supervisorImageCheck } from "./pod-features-check";
import { podSecurityCheck } from "./pod-security-check";
import { adapterFor, detectionCheck, leastPod, platformChecks, targetNamespace } from "./platform-checks";
import { rbacChecks } from "./rbac-checks";
import { rbacRules } from "./rbac-rules";
import { socketCheck } from "./socket-check";

export interface DoctorOptions {
  /** How credentials are found; serve's own loader unless a test supplies one. */
  loadAccess?: (opts: LoadKubeAccessOptions) => Promise<KubeAccess>;
  /** The uid the socket directory must belong to; this process's unless a test fixes it. */
  uid?: number;
  /** How long the controller's probe Sandbox may wait for its status; 20 s unless a test shortens it. */
  controllerProbeMs?: number;
}

/** Check 1, then (with a reachable API server) the cluster checks; the socket check always. */
export async function runDoctor(config: Config, opts: DoctorOptions = {}): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const loadAccess = opts.loadAccess ?? loadKubeAccess;
  let client: KubeClient | undefined;
  try {
    const access = await loadAccess({ kubeconfigPath: config.server.kubeconfig, pluginTimeoutMs: config.server.kubeTimeoutMs });
    client = new KubeClient(access, { timeoutMs: config.server.kubeTimeoutMs });
    const version = await client.version();
    results.push(pass("credentials", `${access.describe}; API server ${version.gitVersion} answers /version`));
    results.push(...(await clusterChecks({ client, config, serverVersion: serverVersionOf(version), ...(opts.controllerProbeMs === undefined ? {} : { controllerProbeMs: opts.controllerProbeMs }) })));
  } catch (err) {
    const found = client !== undefined;
    results.push(
      fail(
        "credentials",
        `${found ? `the API server does not answer /version (${client!.access.describe})` : "no usable Kubernetes credentials"}: ${messageOf(err)}; cluster checks skipped`,
        found ? "check the kubeconfig's server address and the network" : "--kubeconfig=<file>, or set KUBECONFIG, or run in a pod with a ServiceAccount token",
      ),
    );
  }
  results.push(socketCheck(config.server.socket, opts.uid));
  return results;
}

async function clusterChecks(base: Pick<ClusterContext, "client" | "config" | "serverVersion" | "controllerProbeMs">): Promise<CheckResult[]> {
  const { client, config } = base;
  const served = await servedSandboxVersions(client).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
  const choice = config.server.sandboxApiVersion;
  const servedList: SandboxApiVersion[] = served instanceof Error ? [] : served;
  const apiVersion: SandboxApiVersion = choice !== "auto" ? choice : (servedList[0] ?? "v1beta1");
  const namespaceRead = await readNamespace(client, config.render.namespace);
  const detection = await detectionCheck(base);
  const ctx: ClusterContext = { ...base, render: { ...config.render, apiVersion } };
  const adapter = detection.identity ? adapterFor(ctx, detection.identity) : undefined;
  const target = targetNamespace(config.render.namespace, namespaceRead);

  return [
    sandboxApiCheck(served, choice),
    await controllerCheck(ctx, servedList),
    namespaceCheck(ctx, namespaceRead),
    podSecurityCheck(config, namespaceRead, leastPod(ctx, adapter, target)),
    ...(await rbacChecks(client, rbacRules({ config, platform: detection.identity?.name }))),
    await admissionFenceCheck(ctx),
    detection.result,
    ...(await platformChecks(ctx, adapter, namespaceRead)),
    await podFeaturesCheck(ctx),
    await gpuNodesCheck(ctx),
    supervisorImageCheck(ctx),
  ];
}
