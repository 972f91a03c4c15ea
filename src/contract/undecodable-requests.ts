// A request message that does not decode is the caller's bad input: INVALID_ARGUMENT, as Connect
// already answers for an undecodable JSON body. For protobuf bodies Connect answers INTERNAL
// ("parse binary: ..."), and it decodes unary requests before any handler or interceptor runs, so
// the status can only be corrected on its way out, in the gRPC trailers. A compressed frame that does
// not decompress is the caller's bad input too.
import type { OutgoingHttpHeaders } from "node:http";

const PARSE_FAILURE = "parse binary: ";
/** A frame flagged compressed on a call that named no grpc-encoding (Connect answers INTERNAL). */
const UNDECLARED_COMPRESSION = "received compressed envelope";
/** A frame that does not decompress with its grpc-encoding: INTERNAL for brotli's errors (gzip's are INVALID_ARGUMENT already). */
const DECOMPRESSION_FAILURE = "decompression failed";
const INTERNAL = "13";
const INVALID_ARGUMENT = "3";

interface TrailerWriter {
  addTrailers(headers: OutgoingHttpHeaders): void;
}

/** Wraps a node:http2 request handler (connectNodeAdapter's) so undecodable requests end INVALID_ARGUMENT. */
export function undecodableRequestsAsInvalidArgument<Req extends { url?: string }, Res extends TrailerWriter>(
  handler: (req: Req, res: Res) => void,
): (req: Req, res: Res) => void {
  return (req, res) => {
    const addTrailers = res.addTrailers.bind(res);
    res.addTrailers = (trailers) => addTrailers(correctedTrailers(trailers, req.url ?? ""));
    handler(req, res);
  };
}

function correctedTrailers(trailers: OutgoingHttpHeaders, path: string): OutgoingHttpHeaders {
  const status = trailers["grpc-status"];
  const message = trailers["grpc-message"];
  if (String(status) !== INTERNAL || typeof message !== "string") return trailers;
  const detail = safeDecode(message);
  const method = path.split("?", 1)[0]!.split("/").pop() || "request";
  let text: string;
  if (detail.startsWith(PARSE_FAILURE)) {
    text = `the ${method} request is not a valid protobuf message: ${detail.slice(PARSE_FAILURE.length)}`;
  } else if (detail.startsWith(UNDECLARED_COMPRESSION)) {
    text = `the ${method} request is flagged compressed but the call names no grpc-encoding`;
  } else if (detail === DECOMPRESSION_FAILURE) {
    text = `the ${method} request does not decompress with the call's grpc-encoding`;
  } else {
    return trailers;
  }
  return { ...trailers, "grpc-status": INVALID_ARGUMENT, "grpc-message": encodeURIComponent(text) };
}

function safeDecode(message: string): string {
  try {
    return decodeURIComponent(message);
  } catch {
    return message;
  }
}
