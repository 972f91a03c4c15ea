// The gateway's sandbox id reaches label values (`openshell.ai/sandbox-id`) and the label
// selectors every lookup builds from it, so it must be a label value: anything else is either
// refused by the API server after the fact or, worse, changes what a selector matches
// (`a,openshell.ai/sandbox-name` selects sandbox `a`).
import { checkLabelValue } from "./dns";
import { invalidArgument } from "./errors";

/** Throws SandboxRequestError (INVALID_ARGUMENT naming `field`) unless the id is a non-empty label value. */
export function checkSandboxId(sandboxId: string, field: string): void {
  if (sandboxId === "") throw invalidArgument(field, "required");
  const problem = checkLabelValue(sandboxId);
  if (problem) throw invalidArgument(field, `is used as a label value and ${problem}`);
}
