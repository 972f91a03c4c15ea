// gRPC over HTTP/2 on a private Unix socket. node:http2, not Bun.serve: only node:http2 sends
// the trailers that carry a gRPC status.
import { chmodSync } from "node:fs";
import http2 from "node:http2";
import { Code, ConnectError, type Interceptor, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ComputeDriver } from "../gen/compute_driver_pb";
import { logger } from "../log";
import type { Metrics } from "./metrics";
import { peerUid } from "./peer-credentials";
import { prepareSocketPath, removeSocket } from "./private-socket";

const log = logger("grpc");

export interface GrpcServer {
  /** Stops accepting, lets in-flight calls finish for up to `graceMs`, then cuts the rest. */
  close(graceMs: number): Promise<void>;
}

function metricsInterceptor(metrics: Metrics): Interceptor {
  return (next) => async (req) => {
    const method = req.method.name;
    const started = performance.now();
    const finish = (code: Code | "OK") => {
      metrics.rpcRequests.inc({ method, code: typeof code === "string" ? code : Code[code] });
      metrics.rpcDuration.observe({ method }, (performance.now() - started) / 1000);
    };
    try {
      const res = await next(req);
      if (!res.stream) {
        finish("OK");
        return res;
      }
      metrics.watchStreams.inc();
      const messages = res.message;
      return {
        ...res,
        message: (async function* () {
          let code: Code | "OK" = "OK";
          try {
            yield* messages;
          } catch (err) {
            code = ConnectError.from(err).code;
            throw err;
          } finally {
            metrics.watchStreams.dec();
            finish(code);
          }
        })(),
      };
    } catch (err) {
      finish(ConnectError.from(err).code);
      throw err;
    }
  };
}

export async function startGrpcServer(opts: {
  socketPath: string;
  service: ServiceImpl<typeof ComputeDriver>;
  metrics: Metrics;
}): Promise<GrpcServer> {
  await prepareSocketPath(opts.socketPath);
  const ownUid = process.geteuid?.();
  const handler = connectNodeAdapter({
    interceptors: [metricsInterceptor(opts.metrics)],
    routes: (router) => router.service(ComputeDriver, opts.service),
  });
  const server = http2.createServer(handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  server.on("connection", (socket) => {
    const uid = peerUid(socket);
    if (uid !== undefined && ownUid !== undefined && uid !== ownUid) {
      log.warn("rejected a connection from another user", { peerUid: uid });
      socket.destroy();
    }
  });

  // The socket must never exist with looser permissions, not even between listen() and chmod().
  const previousUmask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.socketPath, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } finally {
    process.umask(previousUmask);
  }
  chmodSync(opts.socketPath, 0o600);
  log.info("serving gRPC", { socket: opts.socketPath });

  return {
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      const timer = setTimeout(() => {
        for (const session of sessions) session.destroy();
      }, graceMs);
      await closed;
      clearTimeout(timer);
      removeSocket(opts.socketPath);
    },
  };
}

