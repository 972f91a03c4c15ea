// A driver operation the cluster's current state refuses (unknown sandbox, a name taken by
// another sandbox, a stop that did not finish). `code` names the gRPC status; only src/contract
// turns it into one. Problems with a request field stay SandboxRequestError (src/sandbox/errors.ts).

export type DriverErrorCode =
  | "NotFound"
  | "AlreadyExists"
  | "FailedPrecondition"
  | "Aborted"
  | "DeadlineExceeded"
  | "Unavailable"
  | "Canceled"
  | "ResourceExhausted";

export class DriverError extends Error {
  override readonly name = "DriverError";

  constructor(
    readonly code: DriverErrorCode,
    message: string,
  ) {
    super(message);
  }
}
