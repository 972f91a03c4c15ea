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
  /**
   * For a 403: whether the API server's /readyz said it was ready right after. A starting server
   * refuses everyone until its RBAC caches are loaded, which is not a missing permission.
   */
  apiServerReady?: boolean;
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
  readonly apiServerReady?: boolean;

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
    if (init.apiServerReady !== undefined) this.apiServerReady = init.apiServerReady;
  }
}

// `name` is taken by Error.prototype.name ("KubeApiError"); the object's name lives in objectName.
// Declaration merging would hide that, so the brief's `name?` field is exposed as objectName.

export function isKubeApiError(err: unknown, status?: number): err is KubeApiError {
  return err instanceof KubeApiError && (status === undefined || err.status === status);
}

/** What an authorizer refused, as the API server words it in a 403's message. */
export interface AuthorizationDenial {
  /** The identity the API server saw, e.g. system:serviceaccount:openshell-system:openshell-driver. */
  user: string;
  verb: string;
  /** `resource[/subresource]` with `.group` for a named API group, or a non-resource URL path. */
  resource: string;
  /** undefined = cluster scope (or a non-resource path). */
  namespace?: string;
}

// kube-apiserver's forbiddenMessage (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go).
const DENIAL =
  /User "((?:[^"\\]|\\.)*)" cannot (\S+) (?:resource "([^"]*)" in API group "([^"]*)"(?: in the namespace "([^"]*)"| at the cluster scope)|path "([^"]*)")/;

/** The refused identity and rule of an RBAC (or other authorizer) denial; undefined for any other 403. */
export function authorizationDenialOf(err: KubeApiError): AuthorizationDenial | undefined {
  if (err.status !== 403) return undefined;
  const m = DENIAL.exec(err.detail);
  if (!m) return undefined;
  const [, user, verb, resource, group, namespace, path] = m;
  const denial: AuthorizationDenial = {
    user: user!.replace(/\\(.)/g, "$1"),
    verb: verb!,
    resource: path ?? (group ? `${resource}.${group}` : resource!),
  };
  if (namespace) denial.namespace = namespace;
  return denial;
}

/**
 * A call abandoned because its caller's signal or the client's stop signal fired, not a failure of
 * the API server. Named AbortError, which the gRPC face answers as CANCELLED.
 */
export class KubeCallCanceled extends Error {
  override readonly name = "AbortError";

  constructor(ctx: { verb: string; resource: string; namespace?: string; name?: string }) {
    let target = `${ctx.verb} ${ctx.resource}`;
    if (ctx.name) target += ` "${ctx.name}"`;
    if (ctx.namespace) target += ` in namespace "${ctx.namespace}"`;
    super(`${target}: cancelled before the API server answered`);
  }
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
  apiServerReady?: boolean,
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
  return new KubeApiError({
    ...ctx,
    status,
    reason,
    detail,
    ...(retryAfterSeconds ? { retryAfterSeconds } : {}),
    ...(apiServerReady !== undefined ? { apiServerReady } : {}),
  });
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
