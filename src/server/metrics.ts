// Prometheus metrics. Labels are bounded sets (method, code, verb, phase); never per-sandbox.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface Metrics {
  registry: Registry;
  rpcRequests: Counter<"method" | "code">;
  rpcDuration: Histogram<"method">;
  kubeRequests: Counter<"verb" | "code">;
  kubeDuration: Histogram<"verb">;
  watchRestarts: Counter<"resource" | "reason">;
  watchStreams: Gauge;
  watchStreamDuration: Histogram<"code">;
  listReplyBytes: Gauge;
  sandboxes: Gauge<"phase">;
  platformInfo: Gauge<"platform" | "version">;
}

/** `countSandboxesByPhase` is read at scrape time so the gauge never drifts from the cache. */
export function createMetrics(countSandboxesByPhase: () => Record<string, number>): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "openshell_driver_" });
  const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
  return {
    registry,
    rpcRequests: new Counter({
      name: "openshell_driver_rpc_requests_total",
      help: "gRPC requests handled, by method and status code",
      labelNames: ["method", "code"],
      registers: [registry],
    }),
    rpcDuration: new Histogram({
      name: "openshell_driver_rpc_duration_seconds",
      help: "Latency of unary gRPC requests (WatchSandboxes streams have their own histogram)",
      labelNames: ["method"],
      buckets,
      registers: [registry],
    }),
    kubeRequests: new Counter({
      name: "openshell_driver_kube_requests_total",
      help: "Kubernetes API requests, by verb and HTTP status (or error/timeout)",
      labelNames: ["verb", "code"],
      registers: [registry],
    }),
    kubeDuration: new Histogram({
      name: "openshell_driver_kube_request_duration_seconds",
      help: "Kubernetes API request latency",
      labelNames: ["verb"],
      buckets,
      registers: [registry],
    }),
    watchRestarts: new Counter({
      name: "openshell_driver_watch_restarts_total",
      help: "Kubernetes watch restarts, by resource and reason (timeout, gone, error, stall)",
      labelNames: ["resource", "reason"],
      registers: [registry],
    }),
    watchStreams: new Gauge({
      name: "openshell_driver_watch_streams",
      help: "Open WatchSandboxes streams",
      registers: [registry],
    }),
    watchStreamDuration: new Histogram({
      name: "openshell_driver_watch_stream_duration_seconds",
      help: "How long WatchSandboxes streams stayed open, by the status they ended with",
      labelNames: ["code"],
      buckets: [1, 10, 60, 300, 900, 1800, 3600, 7200, 21_600, 86_400],
      registers: [registry],
    }),
    listReplyBytes: new Gauge({
      name: "openshell_driver_list_reply_bytes",
      help: "Size of the last binary ListSandboxes reply; the OpenShell gateway reads replies with a 4 MiB limit",
      registers: [registry],
    }),
    platformInfo: new Gauge({
      name: "openshell_driver_platform_info",
      help: "The platform the driver adapts sandboxes to (1 for the one in use), with its version where known",
      labelNames: ["platform", "version"],
      registers: [registry],
    }),
    sandboxes: new Gauge({
      name: "openshell_driver_sandboxes",
      help: "Sandboxes known to the driver, by phase",
      labelNames: ["phase"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [phase, n] of Object.entries(countSandboxesByPhase())) this.set({ phase }, n);
      },
    }),
  };
}
