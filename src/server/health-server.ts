// /healthz (the process answers), /readyz (socket bound, API reachable, caches synced) and
// /metrics on a plain TCP port for kubelet probes and Prometheus. Readiness is read from state
// kept in the background, so a probe is answered at once even while the API server hangs.
import http from "node:http";
import { logger } from "../log";
import type { Metrics } from "./metrics";

const log = logger("health");

/** Returns undefined when ready, else the reason it is not. */
export type ReadinessCheck = () => string | undefined;
/** Something worth knowing that does not stop the driver serving (e.g. Kubernetes Events unavailable). */
export type DegradationCheck = () => string | undefined;
/** Lines `/readyz` adds after its verdict, ready or not (e.g. the platform and why it was chosen). */
export type ReadinessDetail = () => string[];

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

export async function startHealthServer(opts: {
  port: number;
  host: string;
  metrics: Metrics;
  readiness: ReadinessCheck;
  degradation?: DegradationCheck;
  detail?: ReadinessDetail;
}): Promise<HealthServer> {
  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    try {
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET, HEAD" }).end();
      } else if (path === "/healthz") {
        res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      } else if (path === "/readyz") {
        const reason = opts.readiness();
        const degraded = reason === undefined ? opts.degradation?.() : undefined;
        const verdict = reason !== undefined ? `not ready: ${reason}` : degraded ? `ok (degraded: ${degraded})` : "ok";
        const body = [verdict, ...(opts.detail?.() ?? [])].map((line) => `${line}\n`).join("");
        res.writeHead(reason === undefined ? 200 : 503, { "content-type": "text/plain" }).end(body);
      } else if (path === "/metrics") {
        const body = await opts.metrics.registry.metrics();
        res.writeHead(200, { "content-type": opts.metrics.registry.contentType }).end(body);
      } else {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      }
    } catch (err) {
      log.error("health endpoint failed", { path, error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) res.writeHead(500).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      const why = err.code === "EADDRINUSE" ? "the port is in use" : err.code === "EADDRNOTAVAIL" ? "no such local address" : err.message;
      reject(new Error(`health and metrics cannot listen on ${opts.host}:${opts.port}: ${why} (--health-address, --health-port; 0 turns it off)`));
    });
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : opts.port;
  log.info("serving health and metrics", { address: `${opts.host}:${port}` });
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
