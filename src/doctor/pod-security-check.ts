// Check 5: does the namespace's Pod Security level admit the least sandbox pod these flags render?
// Only shared mode has one namespace to look at; elsewhere each workspace namespace is checked by
// EnsureWorkspace (and, for namespaces the driver creates, labelled by it).
import type { V1PodSpec } from "@kubernetes/client-node";
import { describeNamespaceLevel, LABEL_PSA_ENFORCE, levelAllows, namespaceEnforceLevel, requiredPodSecurityLevel } from "../platform/pod-security";
import type { Config } from "../config";
import { fail, pass, warn, type CheckResult } from "./checks";
import type { NamespaceRead } from "./cluster-checks";

const NAME = "pod security";
/** Reasons quoted in a detail line; the rest are counted. */
const REASONS_SHOWN = 3;

export function podSecurityCheck(config: Config, read: NamespaceRead, pod: V1PodSpec): CheckResult {
  const needed = requiredPodSecurityLevel(pod);
  const { namespace, workspaceMode } = config.render;
  if (workspaceMode !== "shared") {
    return warn(
      NAME,
      `sandbox pods need ${needed.level}; in ${workspaceMode} mode each workspace namespace has its own level, checked when the workspace is ensured${workspaceMode === "operator" ? ` (label each with ${LABEL_PSA_ENFORCE}=${needed.level} or looser)` : ""}`,
    );
  }
  if (!("found" in read)) {
    const why = "missing" in read ? "it does not exist" : "refused" in read ? `this identity may not get namespaces/${namespace}` : read.failed;
    return warn(NAME, `sandbox pods need ${needed.level}; cannot read namespace "${namespace}"'s label: ${why}`);
  }
  const labels = read.found.metadata?.labels ?? {};
  const level = namespaceEnforceLevel(labels);
  if (levelAllows(level, needed.level)) return pass(NAME, `sandbox pods need ${needed.level}; namespace "${namespace}" has ${describeNamespaceLevel(labels)}`);
  const more = needed.reasons.length > REASONS_SHOWN ? ` (and ${needed.reasons.length - REASONS_SHOWN} more)` : "";
  return fail(
    NAME,
    `sandbox pods need ${needed.level}, but namespace "${namespace}" has ${describeNamespaceLevel(labels)}: ${needed.reasons.slice(0, REASONS_SHOWN).join("; ")}${more}`,
    `kubectl label ns ${namespace} ${LABEL_PSA_ENFORCE}=${needed.level} --overwrite`,
  );
}
