// A request the driver refuses. `code` maps one-to-one to a gRPC status; `field` is the proto path
// as the gateway sent it (rooted at `sandbox.`), and the message always starts with it so a user
// can see which input to fix. Messages name keys, never values (env values and tokens are secrets).

// A well-formed value the driver's request policy does not let a tenant set is PermissionDenied
// (src/sandbox/policy); a value that is malformed or could never run is InvalidArgument.
export type SandboxRequestErrorCode = "InvalidArgument" | "PermissionDenied" | "FailedPrecondition" | "ResourceExhausted";

export class SandboxRequestError extends Error {
  override readonly name = "SandboxRequestError";

  constructor(
    readonly code: SandboxRequestErrorCode,
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export function invalidArgument(field: string, message: string): SandboxRequestError {
  return new SandboxRequestError("InvalidArgument", field, message);
}

export function permissionDenied(field: string, message: string): SandboxRequestError {
  return new SandboxRequestError("PermissionDenied", field, message);
}

export function failedPrecondition(field: string, message: string): SandboxRequestError {
  return new SandboxRequestError("FailedPrecondition", field, message);
}

/** Field path of a map entry, quoted so odd keys stay readable: `a.b["KEY"]`. */
export function keyPath(parent: string, key: string): string {
  return `${parent}[${JSON.stringify(key)}]`;
}
