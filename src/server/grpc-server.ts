// gRPC over HTTP/2 on a private Unix socket. node:http2, not Bun.serve: only node:http2 sends
// the trailers that carry a gRPC status.
import http2 from "node:http2";
import type { ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { undecodableRequestsAsInvalidArgument } from "../contract/undecodable-requests";
import { ComputeDriver } from "../gen/compute_driver_pb";
import { logger } from "../log";
import { LargeReplies } from "./large-replies";
import { ListReplySize, listReplySizeInterceptor } from "./list-reply-size";
import type { Metrics } from "./metrics";
import { OpenStreams } from "./open-streams";
import { platformPeerCredentials, type PeerCredentials } from "./peer-credentials";
import { bindPrivateSocket } from "./private-socket";
import { requestBoundary } from "./request-boundary";
import { deadlineEndsStreams } from "./request-headers";
import { rpcMetricsInterceptor } from "./rpc-metrics";

const log = logger("grpc");

/** Unary calls whose reply holds every sandbox. */
const LARGE_REPLY_PATHS = new Set([`/${ComputeDriver.typeName}/${ComputeDriver.method.listSandboxes.name}`]);
/**
 * Lists written at once, ~15 MB each at 10,000 until sent. One keeps the CPU busy (64 callers got the
 * most Lists per second with one); the second keeps a slow reader from holding up every other List.
 */
const LARGE_REPLY_SLOTS = 2;
/** A List not read to the end by then (a stalled reader) stops holding up the others. */
const LARGE_REPLY_MAX_HOLD_MS = 10_000;
const MAX_SESSION_MEMORY_MB = 1024;

export interface GrpcServer {
  /** Refuses new connections and, with an HTTP/2 GOAWAY, new calls on open ones; removes the socket file if still ours. */
  stopAccepting(): void;
  /** Ends every open WatchSandboxes stream with UNAVAILABLE. */
  endStreams(): void;
  /** Both of the above, then lets in-flight calls finish for up to `graceMs` and cuts the rest. */
  close(graceMs: number): Promise<void>;
}

export async function startGrpcServer(opts: {
  socketPath: string;
  service: Partial<ServiceImpl<typeof ComputeDriver>>;
  metrics: Metrics;
  /** Largest request message accepted; larger ones are refused with RESOURCE_EXHAUSTED unread. */
  maxRequestBytes: number;
  /** Who may connect is checked with SO_PEERCRED unless given. */
  peerCredentials?: PeerCredentials;
}): Promise<GrpcServer> {
  const ownUid = process.geteuid?.();
  const credentials = ownUid === undefined ? { unavailable: "this platform has no user ids" } : (opts.peerCredentials ?? platformPeerCredentials());
  if ("unavailable" in credentials) {
    log.warn("cannot check who connects; the socket file's 0600 mode is the only access control", { reason: credentials.unavailable });
  }
  const streams = new OpenStreams();
  const handler = connectNodeAdapter({
    // The contract is gRPC. Connect and gRPC-Web, which the adapter also serves unless told not to,
    // would only widen what a request can reach (an undecodable Connect body answered HTTP 500);
    // their requests get 415 Unsupported Media Type, as gRPC asks for a content-type it does not serve.
    connect: false,
    grpcWeb: false,
    readMaxBytes: opts.maxRequestBytes,
    // Replies cross a Unix socket: compressing them only spends CPU on both ends (gzip was half
    // of a ListSandboxes of 5000). Compressed requests are still accepted.
    compressMinBytes: Number.MAX_SAFE_INTEGER,
    interceptors: [
      rpcMetricsInterceptor(opts.metrics),
      listReplySizeInterceptor(new ListReplySize(opts.metrics.listReplyBytes)),
      streams.interceptor(),
      deadlineEndsStreams(),
    ],
    routes: (router) => router.service(ComputeDriver, opts.service),
  });
  const serve = requestBoundary(undecodableRequestsAsInvalidArgument(handler));
  const largeReplies = new LargeReplies(LARGE_REPLY_SLOTS, LARGE_REPLY_MAX_HOLD_MS);
  const server = http2.createServer(
    {
      // While more than maxSessionMemory MB (default 10: two Lists of 10,000 sandboxes) wait to be
      // sent, node:http2 (Bun's too) refuses new calls with ENHANCE_YOUR_CALM and soon ends the
      // connection, the gateway's watch with it. The peer is the gateway on a private socket, not a
      // stranger to defend against; what waits to be sent is bounded by LargeReplies instead.
      maxSessionMemory: MAX_SESSION_MEMORY_MB,
      // A malformed request is a stream error (RFC 9113 §8.1.1): its stream is reset, the connection
      // serves on. node:http2 (Bun's too) ends the whole connection with GOAWAY after 100 streams it
      // rejected or 1000 invalid frames, a guard against strangers flooding a public port; here one
      // gateway bug (a header it sends wrong on every call) would end its watch every 100 calls.
      maxSessionRejectedStreams: 2 ** 32 - 1,
      maxSessionInvalidFrames: 2 ** 32 - 1,
    },
    (req, res) => {
      // Matched without the query, as Connect routes it: `/…/ListSandboxes?x` is a List too.
      if (LARGE_REPLY_PATHS.has(req.url?.split("?", 1)[0] ?? "")) largeReplies.admit(res, () => serve(req, res));
      else serve(req, res);
    },
  );
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  if ("read" in credentials) {
    server.on("connection", (socket) => {
      let uid: number;
      try {
        uid = credentials.read(socket);
      } catch (err) {
        log.warn("refused a connection whose peer credentials cannot be read", { error: (err as Error).message });
        socket.destroy();
        return;
      }
      if (uid !== ownUid) {
        log.warn("rejected a connection from another user", { peerUid: uid });
        socket.destroy();
      }
    });
  }

  const bound = await bindPrivateSocket(server, opts.socketPath);
  log.info("serving gRPC", { socket: opts.socketPath });

  let closed: Promise<void> | undefined;
  const stopAccepting = (): Promise<void> => {
    if (closed) return closed;
    closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const session of sessions) session.close();
    bound.remove();
    return closed;
  };
  return {
    stopAccepting: () => void stopAccepting(),
    endStreams: () => streams.endAll(),
    async close(graceMs) {
      const allClosed = stopAccepting();
      streams.endAll();
      const timer = setTimeout(() => {
        for (const session of sessions) session.destroy();
      }, graceMs);
      await allClosed;
      clearTimeout(timer);
    },
  };
}
