// Where and how a sandbox's pod may run. The driver's flags set how every sandbox runs (a gVisor or
// Kata runtime class, user namespaces); a request may choose only inside what the operator gave:
// a runtime class outside the set escapes the sandboxing runtime, any PriorityClass lets one tenant
// preempt the others (system-node-critical), and a toleration of control-plane or node-lifecycle
// taints puts a root pod with SYS_ADMIN where the cluster keeps workloads out.

import type { V1Toleration } from "@kubernetes/client-node";
import { DRIVER_CONFIG_PATH, type KubernetesDriverConfig } from "../driver-config";
import { keyPath } from "../errors";
import { PLATFORM_CONFIG_PATH, type PlatformConfig } from "../platform-config";
import type { RenderSettings } from "../settings";
import { policyRefusal } from "./refusal";

type SchedulingSettings = Pick<RenderSettings, "runtimeClassName" | "enableUserNamespaces" | "requestPolicy">;

interface SchedulingRequest {
  platformConfig: PlatformConfig;
  driverConfig: KubernetesDriverConfig;
}

/** Taints kubeadm and older installers put on control-plane nodes. */
const CONTROL_PLANE_TAINTS = ["node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"];
/** A toleration entry that admits every toleration, a keyless `Exists` included. */
export const ANY_TOLERATION = "*";

export function checkScheduling(request: SchedulingRequest, settings: SchedulingSettings): void {
  const { platformConfig: pc, driverConfig: dc } = request;
  checkRuntimeClass(pc.runtimeClassName, `${PLATFORM_CONFIG_PATH}.runtime_class_name`, settings);
  checkRuntimeClass(dc.pod.runtimeClassName, `${DRIVER_CONFIG_PATH}.pod.runtime_class_name`, settings);
  checkPriorityClass(dc.pod.priorityClassName, `${DRIVER_CONFIG_PATH}.pod.priority_class_name`, settings);
  checkTolerations(pc.tolerations, `${PLATFORM_CONFIG_PATH}.tolerations`, settings);
  checkTolerations(dc.pod.tolerations, `${DRIVER_CONFIG_PATH}.pod.tolerations`, settings);
  checkNodeSelector(pc.nodeSelector, `${PLATFORM_CONFIG_PATH}.node_selector`, settings);
  checkNodeSelector(dc.pod.nodeSelector, `${DRIVER_CONFIG_PATH}.pod.node_selector`, settings);
  // A request may ask for a user namespace the driver does not impose, never leave one it does.
  if (settings.enableUserNamespaces && pc.hostUsers === true) {
    throw policyRefusal({
      field: `${PLATFORM_CONFIG_PATH}.host_users`,
      what: "host_users: true",
      why: "--enable-user-namespaces runs every sandbox in a user namespace, and a request may only tighten a driver-wide security setting",
    });
  }
}

function checkRuntimeClass(name: string | undefined, field: string, settings: SchedulingSettings): void {
  if (!name || name === settings.runtimeClassName || settings.requestPolicy.allowedRuntimeClasses.includes(name)) return;
  const driverWide = settings.runtimeClassName
    ? `sandboxes run with --runtime-class-name=${settings.runtimeClassName}`
    : "sandboxes run with the cluster's default runtime (--runtime-class-name is unset)";
  throw policyRefusal({
    field,
    what: `runtime class '${name}'`,
    why: `${driverWide}, and another runtime class would leave the sandboxing runtime the operator chose`,
    allowWith: { flag: "allowed-runtime-classes", entry: name },
  });
}

function checkPriorityClass(name: string | undefined, field: string, settings: SchedulingSettings): void {
  if (!name || settings.requestPolicy.allowedPriorityClasses.includes(name)) return;
  throw policyRefusal({
    field,
    what: `priority class '${name}'`,
    why: "a priority class decides whose pods the scheduler preempts (system-node-critical evicts other tenants' sandboxes)",
    allowWith: { flag: "allowed-priority-classes", entry: name },
  });
}

function checkTolerations(tolerations: readonly V1Toleration[], path: string, settings: SchedulingSettings): void {
  const allowed = settings.requestPolicy.allowedTolerationKeys;
  if (allowed.includes(ANY_TOLERATION)) return;
  tolerations.forEach((toleration, i) => {
    const at = `${path}[${i}]`;
    const key = toleration.key ?? "";
    if (key === "") {
      throw policyRefusal({
        field: `${at}.operator`,
        what: "a toleration without a key (operator Exists)",
        why: "it tolerates every taint, control-plane and NoExecute ones included",
        allowWith: { flag: "allowed-toleration-keys", entry: ANY_TOLERATION },
      });
    }
    if (allowed.includes(key)) return;
    // A keyed toleration naming no effect also tolerates that key's NoExecute taints; it stays
    // admitted as upstream admits it: a NoSchedule toleration of the same key already lands the
    // sandbox on those nodes, and control-plane and node-condition keys are refused by key above.
    const toleratesNoExecute = toleration.effect === "NoExecute";
    const why = refusedTaintKey(key) ?? (toleratesNoExecute ? NO_EXECUTE : undefined);
    if (why === undefined) return;
    throw policyRefusal({
      field: toleratesNoExecute && !refusedTaintKey(key) ? `${at}.effect` : `${at}.key`,
      what: `a toleration of taint '${key}'${toleration.effect ? ` (${toleration.effect})` : ""}`,
      why,
      allowWith: { flag: "allowed-toleration-keys", entry: key },
    });
  });
}

const NO_EXECUTE = "a NoExecute toleration keeps the sandbox on nodes whose taint evicts pods";

function refusedTaintKey(key: string): string | undefined {
  if (CONTROL_PLANE_TAINTS.includes(key)) return "it lets a root sandbox onto control-plane nodes";
  const prefix = key.includes("/") ? key.slice(0, key.indexOf("/")) : "";
  if (prefix === "kubernetes.io" || prefix.endsWith(".kubernetes.io") || prefix === "k8s.io" || prefix.endsWith(".k8s.io")) {
    return "Kubernetes sets taints of this key on control-plane nodes and on nodes that are not ready, unreachable, cordoned, under pressure or uninitialised, to keep pods off them";
  }
  return undefined;
}

/** Node labels that name one node or a node role rather than a kind of node. */
function pinsNode(key: string): boolean {
  return key === "kubernetes.io/hostname" || key.startsWith("node-role.kubernetes.io/");
}

function checkNodeSelector(selector: Record<string, string>, path: string, settings: SchedulingSettings): void {
  for (const key of Object.keys(selector)) {
    if (!pinsNode(key) || settings.requestPolicy.allowedNodeSelectorKeys.includes(key)) continue;
    throw policyRefusal({
      field: keyPath(path, key),
      what: `node selector key '${key}'`,
      why: "it pins the sandbox to a named node or to a node role (control plane), next to workloads the operator chose to keep it from",
      allowWith: { flag: "allowed-node-selector-keys", entry: key },
    });
  }
}
