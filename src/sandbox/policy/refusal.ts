// The one shape of every request-policy refusal: PERMISSION_DENIED, the field first, what was
// refused and why, and the flag (with the value to add) that would allow it — or that none does.

import { permissionDenied, type SandboxRequestError } from "../errors";

export interface PolicyRefusal {
  /** Request field path, rooted at `sandbox.`. */
  field: string;
  /** What the request asked for, e.g. `annotation key 'sidecar.istio.io/inject'`. */
  what: string;
  /** Why the default refuses it. */
  why: string;
  /** Flag (without dashes) and the entry that would admit it; undefined = no flag does. */
  allowWith?: { flag: string; entry: string };
}

export function policyRefusal({ field, what, why, allowWith }: PolicyRefusal): SandboxRequestError {
  const remedy = allowWith
    ? `an operator may allow it with --${allowWith.flag}=${allowWith.entry}`
    : "no driver flag allows it";
  return permissionDenied(field, `${what} is refused by the driver's request policy: ${why}; ${remedy}`);
}
