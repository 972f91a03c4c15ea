// `openshell-driver-k8s serve`: wiring only. The socket is bound first so the gateway (which
// retries for 30 s) can connect at once; cluster-backed RPCs wait for the first connection to the
// cluster and answer Unavailable once it failed (FailedPrecondition when only the operator can fix
// it), until the Sandbox API is found, the platform fits and the API server keeps every pod feature
// the flags turn on; /readyz reports that and the caches' sync. The pod features are checked again
// whenever the API server's version changes.
import type { Config } from "../config";
import { computeDriverService, type DriverIdentity } from "../contract/compute-driver-service";
import { probeAdmissionFence, unfencedProblem } from "../driver/admission-fence";
import { ApiVersionError, detectSandboxApiVersion } from "../driver/api-version";
import { SandboxDriver } from "../driver/driver";
import { flagFeatureProblem, PodFeatureGuard, PodFeatureProblem } from "../driver/pod-feature-guard";
import { probePodFeatures, serverVersionOf } from "../driver/pod-feature-probe";
import { countByPhase } from "../driver/phase";
import { DriverConnection } from "./driver-connection";
import { KubeClient, loadKubeAccess } from "../kube";
import { configureLogging, logger } from "../log";
import { createPlatformAdapter, detectPlatform } from "../platform";
import { PlatformProblem, type PlatformIdentity } from "../platform/types";
import { ApiReachability } from "../server/api-reachability";
import { startGrpcServer } from "../server/grpc-server";
import { startHealthServer, type HealthServer } from "../server/health-server";
import { createMetrics } from "../server/metrics";

const log = logger("serve");

/** SIGTERM must end the process within 10 s; leave a margin for the socket cleanup. */
const SHUTDOWN_GRACE_MS = 8000;
/** /version is checked this often, and counted as failing once unanswered this long. */
const API_CHECK_INTERVAL_MS = 2000;
const API_STALLED_AFTER_MS = 5000;
/** How long a call made while the first connection attempt is under way waits for it. */
const FIRST_CONNECTION_WAIT_MS = 10_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `openshift 4.16.3 (served: security.openshift.io…)`: the start log's and /readyz's words. */
function describePlatform(platform: PlatformIdentity): string {
  return `${platform.name}${platform.version ? ` ${platform.version}` : ""} (${platform.evidence})`;
}

export async function serve({ server: config, render, platform: platformSettings }: Config, identity: DriverIdentity): Promise<void> {
  configureLogging(config.logLevel, config.logFormat);
  const connection = new DriverConnection<SandboxDriver>("connecting to the Kubernetes API");
  let platform: PlatformIdentity | undefined;
  let stopping = false;

  const metrics = createMetrics(() => {
    const driver = connection.current;
    return driver ? countByPhase(driver.cache.list()) : {};
  });
  // One stop for every Kubernetes call and credential plugin: shutdown never waits on a hung API server.
  const kubeStop = new AbortController();
  const access = await loadKubeAccess({ kubeconfigPath: config.kubeconfig, pluginTimeoutMs: config.kubeTimeoutMs, signal: kubeStop.signal });
  const client = new KubeClient(access, {
    timeoutMs: config.kubeTimeoutMs,
    signal: kubeStop.signal,
    observer: {
      request: (verb, code, seconds) => {
        metrics.kubeRequests.inc({ verb, code });
        metrics.kubeDuration.observe({ verb }, seconds);
      },
      watchRestart: (resource, reason) => metrics.watchRestarts.inc({ resource, reason }),
    },
  });
  log.info("starting", { version: identity.version, namespace: render.namespace, gatewayId: render.gatewayId, workspaceMode: render.workspaceMode, kube: access.describe });

  const service = computeDriverService(identity, (signal) => connection.get(FIRST_CONNECTION_WAIT_MS, signal));
  const grpc = await startGrpcServer({ socketPath: config.socket, service, metrics, maxRequestBytes: config.maxRequestBytes });

  // A new API server version (an upgrade, a rollback) may keep different pod features: ask again.
  let recheckingFeatures = false;
  const recheckFeatures = (version: { gitVersion: string }) => {
    const driver = connection.current;
    if (!driver || recheckingFeatures || driver.podFeatures.version === version.gitVersion) return;
    recheckingFeatures = true;
    probePodFeatures(client, driver.settings, serverVersionOf(version))
      .then((report) => {
        driver.podFeatures.update(report);
        const problem = driver.podFeatures.problem();
        log[problem ? "error" : "info"]("API server version changed; pod features checked again", { version: version.gitVersion, ...(problem ? { problem } : {}) });
      })
      .catch((err: unknown) => log.warn("API server version changed; checking its pod features failed, will retry", { version: version.gitVersion, error: (err as Error).message }))
      .finally(() => (recheckingFeatures = false));
  };
  const api = new ApiReachability(
    () =>
      client.version().then((version) => {
        recheckFeatures(version);
        return version;
      }),
    { intervalMs: API_CHECK_INTERVAL_MS, stalledAfterMs: API_STALLED_AFTER_MS },
  );
  api.start();

  let health: HealthServer | undefined;
  if (config.healthPort !== 0) {
    try {
      health = await startHealthServer({
        port: config.healthPort,
        host: config.healthAddress,
        metrics,
        readiness: () => {
          if (stopping) return "shutting down";
          const driver = connection.current;
          if (!driver) return connection.problem;
          return api.problem() ?? driver.podFeatures.problem() ?? driver.cache.problem();
        },
        // Events only add progress detail: their absence is reported, never a reason to stop serving.
        degradation: () => connection.current?.cache.eventsProblem(),
        detail: () => (platform ? [`platform: ${describePlatform(platform)}`] : []),
      });
    } catch (err) {
      // A failed start leaves nothing behind: the socket goes with the server.
      api.stop();
      await grpc.close(0);
      throw err;
    }
  }

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("shutting down", { signal });
    // Never outlive the grace period, whatever hangs.
    setTimeout(() => process.exit(0), SHUTDOWN_GRACE_MS + 1500).unref();
    // New calls go elsewhere first; then open watches end with UNAVAILABLE, so the gateway
    // reconnects rather than logging a stream that "ended unexpectedly"; then the informers stop.
    grpc.stopAccepting();
    grpc.endStreams();
    api.stop();
    // The informers stop their own calls first, so only calls still under way are cancelled.
    const driverStopped = connection.current?.stop();
    kubeStop.abort();
    await driverStopped;
    await Promise.all([grpc.close(SHUTDOWN_GRACE_MS), health?.close()]);
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));

  // Find the Sandbox API and the platform, retrying with capped backoff: the CRD may be installed
  // after us, and a platform problem (a namespace label, an SCC grant) may be fixed while we wait.
  for (let attempt = 0; !stopping; attempt++) {
    try {
      const apiVersion = await detectSandboxApiVersion(client, render.namespace, config.sandboxApiVersion);
      const settings = { ...render, apiVersion };
      const detected = await detectPlatform(client, platformSettings.platform);
      if (platform === undefined || describePlatform(platform) !== describePlatform(detected)) {
        log.info("platform", { platform: detected.name, version: detected.version, evidence: detected.evidence });
        metrics.platformInfo.reset();
        metrics.platformInfo.set({ platform: detected.name, version: detected.version }, 1);
      }
      platform = detected;
      const adapter = createPlatformAdapter({ client, identity: detected, platform: platformSettings, render: settings });
      await adapter.preflight();
      if (settings.workspaceMode === "managed") await requireAdmissionFence(client, settings);
      const features = await probePodFeatures(client, settings, serverVersionOf(await client.version()));
      const featureProblem = flagFeatureProblem(features, settings);
      if (featureProblem) throw featureProblem;
      if (features.otherLosses.length > 0) log.warn("the API server drops fields of the sandbox pod", { fields: features.otherLosses });
      const podFeatures = new PodFeatureGuard(features, settings);
      const connected = new SandboxDriver({ client, settings, platform: adapter, podFeatures, stopTimeoutMs: config.stopTimeoutMs });
      connected.start();
      connection.connected(connected);
      log.info("connected to the cluster", { sandboxApiVersion: apiVersion, namespace: render.namespace, platform: detected.name });
      return;
    } catch (err) {
      // What only the operator can fix answers FailedPrecondition with its fix, not "not connected yet".
      const precondition = err instanceof ApiVersionError || err instanceof PlatformProblem || err instanceof PodFeatureProblem;
      connection.failed((err as Error).message, precondition);
      const level = precondition || attempt === 0 ? "error" : "warn";
      log[level]("cannot use the cluster yet; retrying", { error: connection.problem });
      await sleep(Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5)) * (0.75 + Math.random() * 0.5));
    }
  }
}

/** Managed mode does not serve while its cluster-wide writes are unconfined (driver/admission-fence.ts). */
async function requireAdmissionFence(client: KubeClient, settings: { namespace: string; gatewayId: string }): Promise<void> {
  const answer = await probeAdmissionFence(client, settings);
  if (answer.fenced) return;
  const { message, fix } = unfencedProblem(answer.namespace, settings.gatewayId);
  throw new PlatformProblem(message, fix);
}
