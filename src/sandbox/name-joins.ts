// Workspace and sandbox names are joined into every name the driver makes: `{workspace}--{name}`
// for the CR, pod and workspace claim in shared mode, `{workspace}--{name}` Kyma hosts, and
// `{name}--{namespace}` OpenShift Route hosts in the per-workspace modes. A join is unambiguous only
// if neither part contains the separator: with `--` refused in both, every joined name splits at
// its first `--` back into exactly one (workspace, name) pair, so workspace `a` + name `b--c` can no
// longer take the name of workspace `a--b` + name `c`. Sandboxes created before this rule keep
// working: every lookup finds a sandbox by its id label, never by parsing its name.

import { invalidArgument } from "./errors";
import type { RenderSettings } from "./settings";

export const NAME_SEPARATOR = "--";

const DNS1035_FIRST = /^[a-z]/;

/** Throws INVALID_ARGUMENT naming the field whose value contains the separator. */
export function checkJoinableNames(sandbox: { workspace: string; name: string }): void {
  for (const [field, value] of [
    ["sandbox.workspace", sandbox.workspace],
    ["sandbox.name", sandbox.name],
  ] as const) {
    if (value.includes(NAME_SEPARATOR)) {
      throw invalidArgument(
        field,
        `'${value}' contains '${NAME_SEPARATOR}', which the driver uses to join workspace and sandbox names into object names and hosts; a name containing it could be another workspace's sandbox`,
      );
    }
  }
}

/**
 * agent-sandbox controllers that serve only v1alpha1 (up to v0.4) create a headless Service named
 * after every Sandbox CR, and a Service name is a DNS-1035 label (apimachinery
 * `IsDNS1035Label`: it must start with a letter). A CR name starting with a digit is accepted by
 * the API server, but its Service never is, so the sandbox would never become Ready. The field
 * named is the one that starts the CR name: the workspace in shared mode, else the name.
 */
export function checkServiceNameable(
  sandbox: { workspace: string; name: string },
  kubeName: string,
  settings: Pick<RenderSettings, "apiVersion" | "workspaceMode">,
): void {
  if (settings.apiVersion !== "v1alpha1" || DNS1035_FIRST.test(kubeName)) return;
  const [field, value] = settings.workspaceMode === "shared" ? ["sandbox.workspace", sandbox.workspace] : ["sandbox.name", sandbox.name];
  throw invalidArgument(
    field,
    `'${value}' starts the Sandbox name '${kubeName}', and a v1alpha1 agent-sandbox controller names a Service after it, which must be a DNS-1035 label (start with a lowercase letter)`,
  );
}
