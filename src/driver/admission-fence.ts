// Managed mode grants the driver cluster-wide rights to write namespaces, Secrets, ServiceAccounts,
// NetworkPolicies, Sandboxes and exposure objects: RBAC cannot say "only in namespaces I created".
// The ValidatingAdmissionPolicy of deploy/rbac-managed.yaml is what confines those writes to this
// gateway's workspace namespaces, and a policy that is missing, unbound, or matching another
// identity fails open and silently. So its effect is tried, not read: a server-side dry run
// (`dryRun=All`: every admission step runs, nothing is stored) of a Secret in the driver's own
// namespace, which is not a workspace namespace of this gateway, must be refused. Any 403 means the
// write is fenced (by the policy, or because RBAC does not grant it there at all).
import { isKubeApiError, type KubeClient } from "../kube";
import { LABEL_GATEWAY_ID, LABEL_MANAGED_BY, MANAGED_BY_VALUE } from "../sandbox/labels";
import type { RenderSettings } from "../sandbox/settings";

export const ADMISSION_PROBE_PREFIX = "openshell-admission-probe-";

export type FenceAnswer = { fenced: true; by: string } | { fenced: false; namespace: string };

export async function probeAdmissionFence(client: KubeClient, settings: Pick<RenderSettings, "namespace" | "gatewayId">): Promise<FenceAnswer> {
  const namespace = settings.namespace;
  try {
    await client.request({
      verb: "create",
      path: `/api/v1/namespaces/${namespace}/secrets`,
      query: { dryRun: "All" },
      resource: "secrets",
      namespace,
      body: { apiVersion: "v1", kind: "Secret", metadata: { generateName: ADMISSION_PROBE_PREFIX, namespace }, type: "Opaque" },
    });
  } catch (err) {
    if (isKubeApiError(err, 403)) return { fenced: true, by: err.detail };
    throw err;
  }
  return { fenced: false, namespace };
}

/** What to tell an operator whose managed-mode driver could write outside its workspaces. */
export function unfencedProblem(namespace: string, gatewayId: string): { message: string; fix: string } {
  return {
    message: `managed mode: a dry-run create of a Secret in namespace "${namespace}" was admitted, so nothing confines this identity's cluster-wide writes to namespaces labelled ${LABEL_MANAGED_BY}=${MANAGED_BY_VALUE},${LABEL_GATEWAY_ID}=${gatewayId}`,
    fix: "apply the ValidatingAdmissionPolicy, its binding and its parameter ConfigMap from deploy/rbac-managed.yaml (or the chart with rbac.create=true), with gatewayId set to this driver's --gateway-id (Kubernetes >= 1.30), and run the driver as that ServiceAccount",
  };
}
