// Every failure leaves the driver as a ConnectError with the right gRPC code. The gateway
// propagates ValidateSandboxCreate's status to API callers, so messages must be specific and
// must never carry secrets (they are built from field paths and object names only).
import { Code, ConnectError } from "@connectrpc/connect";
import { DriverError } from "../driver/errors";
import { KubeApiError } from "../kube/errors";
import { SandboxRequestError } from "../sandbox/errors";

export function kubeStatusToCode(err: KubeApiError): Code {
  switch (err.status) {
    case 0:
    case 429:
      return Code.Unavailable;
    case 400:
    case 422:
      return Code.InvalidArgument;
    case 401:
      return Code.Unauthenticated;
    case 403:
      return Code.PermissionDenied;
    case 404:
      return Code.NotFound;
    case 409:
      // A resourceVersion/UID precondition failure is a lost race, not a duplicate.
      return err.reason === "AlreadyExists" ? Code.AlreadyExists : Code.Aborted;
    case 410:
      return Code.Aborted;
    default:
      return err.status >= 500 ? Code.Unavailable : Code.Internal;
  }
}

export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof SandboxRequestError || err instanceof DriverError) return new ConnectError(err.message, Code[err.code]);
  if (err instanceof KubeApiError) return new ConnectError(`kubernetes: ${err.message}`, kubeStatusToCode(err));
  if (err instanceof Error && err.name === "AbortError") return new ConnectError("request cancelled", Code.Canceled);
  const message = err instanceof Error ? err.message : String(err);
  return new ConnectError(message, Code.Internal);
}
