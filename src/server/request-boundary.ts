// Whatever a request carries in its headers, the worst it can do is end its own stream with an
// error: never the process, never another caller's call.
import http2 from "node:http2";
import { logger } from "../log";
import { boundStatusMessages, dropUntimeableDeadline } from "./request-headers";

const log = logger("grpc");

/**
 * The authority every request is read with. The Unix socket is the address; what a client sends as
 * `:authority` names nothing here, and Connect builds a URL from it: grpcio ≥ 1.7x sends the socket
 * path, slashes percent-encoded (`tmp%2Fd%2Fdriver.sock`), which is no URL host, and the TypeError
 * used to escape the request and end the process.
 */
const SOCKET_AUTHORITY = "localhost";
const GRPC_INTERNAL = "13";

type Handler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void;

/**
 * Wraps the gRPC handler so a request is read with a fixed authority, its header values reach only
 * its own call (deadline, status message), and an exception stays with its stream.
 */
export function requestBoundary(handler: Handler): Handler {
  return (req, res) => {
    Object.defineProperty(req, "authority", { value: SOCKET_AUTHORITY });
    try {
      dropUntimeableDeadline(req.headers);
      boundStatusMessages(res);
      handler(req, res);
    } catch (err) {
      failRequest(req, res, err);
    }
  };
}

/**
 * Logs once with the method and ends the stream INTERNAL: an exception here is a request the driver
 * failed to read, not something the caller can be told to fix. Neither the log line nor the reply
 * carries the error's message, which may quote a header value (an authorization metadata entry).
 */
function failRequest(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse, err: unknown): void {
  log.warn("a request failed before reaching its handler", {
    method: methodOf(req.url),
    error: err instanceof Error ? err.name : typeof err,
    at: err instanceof Error ? firstFrame(err) : undefined,
  });
  try {
    if (res.headersSent) {
      res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    res.writeHead(200, {
      "content-type": "application/grpc",
      "grpc-status": GRPC_INTERNAL,
      "grpc-message": encodeURIComponent("the driver could not read this request"),
    });
    res.end();
  } catch {
    // The stream is already gone (the peer reset it): nothing is left to answer.
  }
}

/** The RPC's name from a `:path`, bounded: the path is the caller's text. */
function methodOf(path: string | undefined): string {
  const method = (path ?? "").split("?", 1)[0]!.split("/").pop() ?? "";
  return method.slice(0, 64) || "(none)";
}

function firstFrame(err: Error): string | undefined {
  return err.stack?.split("\n").find((line) => line.trimStart().startsWith("at "))?.trim();
}
