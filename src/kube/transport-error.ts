// A call that got no HTTP response at all (refused, reset, timed out, TLS failure) as a
// status-0 KubeApiError whose reason says which, naming the call and the server.
import { KubeApiError } from "./errors";

export interface ErrorContext {
  verb: string;
  resource: string;
  namespace?: string;
  name?: string;
}

export function errorContext(verb: string, req: { resource: string; namespace?: string; name?: string }): ErrorContext {
  return {
    verb,
    resource: req.resource,
    ...(req.namespace !== undefined ? { namespace: req.namespace } : {}),
    ...(req.name !== undefined ? { name: req.name } : {}),
  };
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO|TLS|SSL|HANDSHAKE/i;

/** Map a fetch rejection (no HTTP response) to a status-0 KubeApiError with a stable reason. */
export function transportError(ctx: ErrorContext, err: unknown, timeoutMs: number, server: string): KubeApiError {
  if (err instanceof KubeApiError) return err;
  const e = err as { name?: string; code?: string; message?: string };
  const code = e?.code ?? "";
  const msg = e?.message ?? String(err);
  let reason = "NetworkError";
  let detail: string;
  if (e?.name === "TimeoutError" || code === "ETIMEDOUT" || code === "Timeout") {
    reason = "Timeout";
    detail = timeoutMs > 0 ? `no response from ${server} within ${timeoutMs} ms` : `timed out talking to ${server}`;
  } else if (e?.name === "AbortError") {
    reason = "Aborted";
    detail = `request to ${server} was aborted`;
  } else if (code === "ConnectionRefused" || code === "ECONNREFUSED") {
    reason = "ConnectionRefused";
    detail = `connection to ${server} refused`;
  } else if (TLS_CODES.test(code)) {
    reason = "TLSError";
    detail = `TLS handshake with ${server} failed: ${code}${msg && !msg.includes(code) ? ` (${msg})` : ""}`;
  } else {
    detail = `${code ? `${code}: ` : ""}${msg} (server ${server})`;
  }
  return new KubeApiError({ ...ctx, status: 0, reason, detail, cause: err });
}
