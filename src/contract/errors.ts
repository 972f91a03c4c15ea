// Every failure leaves the driver as a ConnectError with the right gRPC code. The gateway
// propagates ValidateSandboxCreate's status to API callers, so messages must be specific and
// must never carry secrets (they are built from field paths and object names only).
import { Code, ConnectError } from "@connectrpc/connect";
import { DriverError } from "../driver/errors";
import { authorizationDenialOf, KubeApiError } from "../kube/errors";
import { SandboxRequestError } from "../sandbox/errors";

const RBAC_MANIFESTS = "deploy/rbac.yaml (deploy/rbac-managed.yaml or deploy/rbac-operator.yaml in those workspace modes)";

export function kubeStatusToCode(err: KubeApiError): Code {
  switch (err.status) {
    case 0:
    case 429:
      return Code.Unavailable;
    case 400:
    case 422:
      return Code.InvalidArgument;
    case 401:
      // The driver's own credentials, not the caller's: not yet valid at API-server start, or rotated.
      return Code.Unavailable;
    case 403:
      return forbiddenCode(err);
    case 404:
      return Code.NotFound;
    case 409:
      // A resourceVersion/UID precondition failure is a lost race, not a duplicate.
      return err.reason === "AlreadyExists" ? Code.AlreadyExists : Code.Aborted;
    case 410:
      return Code.Aborted;
    default:
      if (err.reason === "InvalidResponse") return Code.Unavailable;
      return err.status >= 500 ? Code.Unavailable : Code.Internal;
  }
}

/**
 * A 403 is never the gateway caller's fault, so never PERMISSION_DENIED (which the gateway passes
 * on as the caller's). A starting API server refuses until its authenticators and RBAC caches are
 * loaded: UNAVAILABLE. A permission the driver's ServiceAccount lacks, an admission policy, a quota
 * or a terminating namespace is the cluster's state: FAILED_PRECONDITION, which the gateway shows.
 */
function forbiddenCode(err: KubeApiError): Code {
  if (err.apiServerReady === false || authorizationDenialOf(err)?.user === "system:anonymous") return Code.Unavailable;
  return Code.FailedPrecondition;
}

function kubeMessage(err: KubeApiError): string {
  const message = `kubernetes: ${err.message}`;
  if (err.status === 401) return `the API server does not accept the driver's credentials (not yet, or they were rotated); ${message}`;
  if (err.status !== 403) return message;
  const denial = authorizationDenialOf(err);
  if (denial?.user === "system:anonymous") {
    return `the API server did not recognise the driver's credentials and treated it as system:anonymous (starting up, or credentials rotated); ${message}`;
  }
  if (err.apiServerReady === false) return `the API server is not ready yet and refuses requests until its authorization is loaded; ${message}`;
  if (!denial) return message;
  const scope = denial.namespace === undefined ? "cluster-wide" : `in namespace "${denial.namespace}"`;
  return `the driver's identity "${denial.user}" may not ${denial.verb} ${denial.resource} ${scope}: grant it by applying ${RBAC_MANIFESTS}; ${message}`;
}

export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof SandboxRequestError || err instanceof DriverError) return new ConnectError(err.message, Code[err.code]);
  if (err instanceof KubeApiError) return new ConnectError(kubeMessage(err), kubeStatusToCode(err));
  if (err instanceof Error && err.name === "AbortError") return new ConnectError("request cancelled", Code.Canceled);
  const message = err instanceof Error ? err.message : String(err);
  return new ConnectError(message, Code.Internal);
}
