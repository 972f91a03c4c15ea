// One error type for every Kubernetes call, so callers branch on status/reason and users read a
// message that names the verb, the resource, the object and the namespace. Request bodies never
// appear here: they can carry secrets (env, tokens) the caller put into a Sandbox spec.

export interface KubeApiErrorInit {
  /** HTTP status; 0 when no response arrived (network error, timeout). */
  status: number;
  /** Kubernetes Status.reason ("NotFound", "Conflict", ...) or a transport reason ("Timeout", "ConnectionRefused", ...). */
  reason: string;
  verb: string;
  resource: string;
  namespace?: string;
  name?: string;
  /** The API server's Status.message, or a description of the transport failure. */
  detail: string;
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class KubeApiError extends Error {
  override name = "KubeApiError";
  readonly status: number;
  readonly reason: string;
  readonly verb: string;
  readonly resource: string;
  readonly namespace?: string;
  readonly objectName?: string;
  readonly detail: string;
  readonly retryAfterSeconds?: number;

  constructor(init: KubeApiErrorInit) {
    super(formatMessage(init), init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.reason = init.reason;
    this.verb = init.verb;
    this.resource = init.resource;
    this.detail = init.detail;
    if (init.namespace !== undefined) this.namespace = init.namespace;
    if (init.name !== undefined) this.objectName = init.name;
    if (init.retryAfterSeconds !== undefined) this.retryAfterSeconds = init.retryAfterSeconds;
  }
}

// `name` is taken by Error.prototype.name ("KubeApiError"); the object's name lives in objectName.
// Declaration merging would hide that, so the brief's `name?` field is exposed as objectName.

export function isKubeApiError(err: unknown, status?: number): err is KubeApiError {
  return err instanceof KubeApiError && (status === undefined || err.status === status);
}

/** Reason the API server would give for a bare status code (client-go's apierrors mapping). */
function reasonForStatus(status: number): string {
  switch (status) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 406:
      return "NotAcceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "RequestEntityTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return status >= 500 ? "InternalError" : status >= 400 ? "BadRequest" : "Unknown";
  }
}

interface StatusLike {
  kind?: unknown;
  message?: unknown;
  reason?: unknown;
  code?: unknown;
  details?: { retryAfterSeconds?: unknown };
}

/**
 * Build the error for a non-2xx response from its body text. The body is normally a
 * metav1.Status; proxies and load balancers in front of the API server answer with HTML or
 * plain text instead, of which only a short prefix is kept.
 */
export function errorFromResponse(
  ctx: { verb: string; resource: string; namespace?: string; name?: string },
  status: number,
  bodyText: string,
  retryAfterHeader?: string | null,
): KubeApiError {
  let reason = reasonForStatus(status);
  let detail = "";
  let retryAfterSeconds: number | undefined;
  const parsed = parseStatus(bodyText);
  if (parsed) {
    if (typeof parsed.reason === "string" && parsed.reason !== "") reason = parsed.reason;
    if (typeof parsed.message === "string") detail = parsed.message;
    const ras = parsed.details?.retryAfterSeconds;
    if (typeof ras === "number" && ras > 0) retryAfterSeconds = ras;
  } else {
    detail = bodyText.trim().replace(/\s+/g, " ").slice(0, 200);
  }
  if (detail === "") detail = `HTTP ${status}`;
  if (retryAfterSeconds === undefined && retryAfterHeader) {
    const n = Number(retryAfterHeader);
    if (Number.isFinite(n) && n > 0) retryAfterSeconds = n;
  }
  return new KubeApiError({ ...ctx, status, reason, detail, ...(retryAfterSeconds ? { retryAfterSeconds } : {}) });
}

/** Error for an in-stream watch ERROR event, whose object is a metav1.Status. */
export function errorFromStatusObject(
  ctx: { verb: string; resource: string; namespace?: string; name?: string },
  obj: unknown,
): KubeApiError {
  const s = (obj ?? {}) as StatusLike;
  const status = typeof s.code === "number" ? s.code : 500;
  return errorFromResponse(ctx, status, JSON.stringify(obj ?? {}));
}

function parseStatus(text: string): StatusLike | undefined {
  if (!text.trimStart().startsWith("{")) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === "object" ? (v as StatusLike) : undefined;
  } catch {
    return undefined;
  }
}

function formatMessage(init: KubeApiErrorInit): string {
  let target = `${init.verb} ${init.resource}`;
  if (init.name) target += ` "${init.name}"`;
  if (init.namespace) target += ` in namespace "${init.namespace}"`;
  return `${target}: ${humanReason(init.reason)}: ${init.detail}`;
}

/** "AlreadyExists" → "already exists", the spelling kubectl users know. */
function humanReason(reason: string): string {
  return reason.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
}
