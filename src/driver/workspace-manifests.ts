// The objects managed workspace mode writes into a workspace's namespace, as upstream renders them
// (`ensure_namespace`, `ensure_service_account`, `image_pull_secret_copy`, `ensure_tls_secret`,
// `managed_ssh_network_policy`). Pure, so they are unit-tested field by field.
import type { V1LabelSelector, V1Namespace, V1ObjectMeta, V1Secret, V1ServiceAccount } from "@kubernetes/client-node";
import { ANNOTATION_SCC_SUPPLEMENTAL_GROUPS, ANNOTATION_SCC_UID_RANGE } from "../sandbox/identity";
import { LABEL_GATEWAY_ID, LABEL_MANAGED_BY, LABEL_SANDBOX_WORKSPACE, MANAGED_BY_VALUE } from "../sandbox/labels";
import type { ManagedSshIngress } from "../sandbox/settings";

export const SSH_NETWORK_POLICY_NAME = "openshell-sandbox-ssh";
/** Port of the supervisor's SSH server in the sandbox pod. */
export const SANDBOX_SSH_PORT = 2222;
/** Field manager of every server-side apply, so upstream's driver and ours own the same fields. */
export const FIELD_MANAGER = "openshell";

const MANAGED_BY = { [LABEL_MANAGED_BY]: MANAGED_BY_VALUE };

/**
 * A workspace's namespace. It carries the gateway namespace's OpenShift ranges, so sandboxes of
 * every workspace get the same UID/GID the gateway's namespace was assigned.
 */
export function managedNamespace(
  name: string,
  workspace: string,
  gatewayId: string,
  gatewayNamespaceAnnotations: Record<string, string>,
  platformLabels: Record<string, string> = {},
): V1Namespace {
  const annotations: Record<string, string> = {};
  for (const key of [ANNOTATION_SCC_UID_RANGE, ANNOTATION_SCC_SUPPLEMENTAL_GROUPS]) {
    const value = gatewayNamespaceAnnotations[key];
    if (value !== undefined) annotations[key] = value;
  }
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name,
      // The platform's (Kyma: the Pod Security level its pods need) first: ownership labels win.
      labels: { ...platformLabels, ...MANAGED_BY, [LABEL_GATEWAY_ID]: gatewayId, [LABEL_SANDBOX_WORKSPACE]: workspace },
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
  };
}

/** Whether this gateway created the namespace: the only namespaces it may reuse or delete. */
export function isOwnedNamespace(namespace: V1Namespace, gatewayId: string): boolean {
  const labels = namespace.metadata?.labels ?? {};
  return labels[LABEL_MANAGED_BY] === MANAGED_BY_VALUE && labels[LABEL_GATEWAY_ID] === gatewayId;
}

export function sandboxServiceAccount(name: string, namespace: string): V1ServiceAccount {
  return { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace, labels: { ...MANAGED_BY } } };
}

/** A copy of `source` in `namespace`: its type and data only, never the source's metadata. */
export function secretCopy(source: V1Secret, namespace: string): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: source.metadata?.name ?? "", namespace, labels: { ...MANAGED_BY } },
    ...(source.type !== undefined ? { type: source.type } : {}),
    ...(source.data !== undefined ? { data: source.data } : {}),
  };
}

/** The JSON shape of the NetworkPolicy (client-node's V1NetworkPolicy spells `from` as `_from`). */
export interface SshIngressPolicy {
  apiVersion: "networking.k8s.io/v1";
  kind: "NetworkPolicy";
  metadata: V1ObjectMeta;
  spec: {
    podSelector: V1LabelSelector;
    policyTypes: string[];
    ingress: { from: { namespaceSelector: V1LabelSelector; podSelector: V1LabelSelector }[]; ports: { port: number; protocol: string }[] }[];
  };
}

export const SANDBOX_NETWORK_POLICY_NAME = "openshell-sandbox-isolation";
/** RFC 1918, link-local (cloud metadata), CGNAT: never a sandbox's destination (the chart's list). */
export const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"];

/**
 * Every sandbox pod of a workspace namespace: in, only from the gateway's pods; out, DNS, the
 * gateway's pods and the internet outside private ranges. The chart's `<name>-sandboxes` policy,
 * for the namespaces the chart cannot know in advance.
 */
export function sandboxIsolationPolicy(namespace: string, ingress: ManagedSshIngress): object {
  const gateway = {
    namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ingress.gatewayNamespace } },
    podSelector: { matchLabels: { ...ingress.gatewayPodSelector } },
  };
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: SANDBOX_NETWORK_POLICY_NAME, namespace, labels: { ...MANAGED_BY } },
    spec: {
      podSelector: { matchLabels: { ...MANAGED_BY } },
      policyTypes: ["Ingress", "Egress"],
      ingress: [{ from: [gateway] }],
      egress: [
        { ports: [{ port: 53, protocol: "UDP" }, { port: 53, protocol: "TCP" }] },
        { to: [gateway] },
        { to: [{ ipBlock: { cidr: "0.0.0.0/0", except: PRIVATE_RANGES } }] },
      ],
    },
  };
}

/** Only the gateway's pods may reach a sandbox's SSH port. */
export function sshIngressPolicy(namespace: string, ingress: ManagedSshIngress): SshIngressPolicy {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: SSH_NETWORK_POLICY_NAME, namespace, labels: { ...MANAGED_BY } },
    spec: {
      // Upstream selects sandbox pods by managed-by; our pods carry that label (see render.ts).
      podSelector: { matchLabels: { ...MANAGED_BY } },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ingress.gatewayNamespace } },
              podSelector: { matchLabels: { ...ingress.gatewayPodSelector } },
            },
          ],
          ports: [{ port: SANDBOX_SSH_PORT, protocol: "TCP" }],
        },
      ],
    },
  };
}
