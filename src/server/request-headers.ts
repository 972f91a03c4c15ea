// What a caller's header values may reach: its own call's deadline and its own status message, never
// the timers or the connection that other calls share.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type http2 from "node:http2";

/** The longest delay a timer holds: setTimeout fires a longer one after 1 ms (TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** gRPC: `grpc-timeout` is 1-8 digits and a unit (PROTOCOL-HTTP2.md, "Timeout"). */
const GRPC_TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const GRPC_TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
/**
 * Longest status message sent back. Connect's messages can quote a request header (an unknown
 * grpc-encoding, a malformed grpc-timeout), percent-encoded up to three bytes a byte: a 60 KB header
 * came back as a 180 KB trailer, which Bun's http2 cannot send (it ended the whole connection, every
 * other call on it too), and which gRPC core clients refuse anyway (8 KiB default metadata limit).
 * 4 KiB encoded still carries every message the driver writes whole (a request-policy refusal names
 * the field, the key, who acts on it and the flag that would admit it: ~600 characters).
 */
const MAX_STATUS_MESSAGE_CHARS = 4096;

/**
 * Drops a deadline too far away for a timer. gRPC allows up to 99999999 hours; Connect arms a
 * setTimeout with it, which fires after 1 ms for anything past ~24.8 days, so a call with a
 * far-off deadline (a watch meant to run for a month) would end DEADLINE_EXCEEDED at once. Such a
 * deadline is left to the client, which enforces its own deadline anyway.
 */
export function dropUntimeableDeadline(headers: http2.IncomingHttpHeaders): void {
  const grpc = GRPC_TIMEOUT.exec(String(headers["grpc-timeout"] ?? ""));
  if (grpc && Number(grpc[1]) * GRPC_TIMEOUT_UNIT_MS[grpc[2]!]! > MAX_TIMER_MS) delete headers["grpc-timeout"];
}

/**
 * Ends a server stream whose deadline passed with DEADLINE_EXCEEDED. The watch returns quietly once
 * its call's signal fires, which Connect then ends OK: the caller would read a clean end of a stream
 * that its own grpc-timeout cut, as if the driver had closed it.
 */
export function deadlineEndsStreams(): Interceptor {
  return (next) => async (req) => {
    const res = await next(req);
    if (!res.stream) return res;
    const messages = res.message;
    return {
      ...res,
      message: (async function* () {
        yield* messages;
        const reason: unknown = req.signal.reason;
        if (reason instanceof ConnectError && reason.code === Code.DeadlineExceeded) throw reason;
      })(),
    };
  };
}

interface StatusWriter {
  addTrailers(headers: http2.OutgoingHttpHeaders): void;
}

/** Keeps the `grpc-message` trailer short, whatever the request quoted into it. */
export function boundStatusMessages(res: StatusWriter): void {
  const addTrailers = res.addTrailers.bind(res);
  res.addTrailers = (trailers) => {
    const message = trailers["grpc-message"];
    addTrailers(typeof message === "string" && message.length > MAX_STATUS_MESSAGE_CHARS ? { ...trailers, "grpc-message": shortened(message) } : trailers);
  };
}

/** A percent-encoded message cut to whole characters that fit the bound, still percent-encoded. */
function shortened(encoded: string): string {
  let text: string;
  try {
    text = decodeURIComponent(encoded);
  } catch {
    text = encoded;
  }
  const suffix = encodeURIComponent(" …");
  let cut = "";
  for (const char of text) {
    const next = encodeURIComponent(char);
    if (cut.length + next.length + suffix.length > MAX_STATUS_MESSAGE_CHARS) break;
    cut += next;
  }
  return cut + suffix;
}
