// Which pod annotation and label keys a request may set. A key is metadata to us, but an order to
// whatever else reads the pod: admission webhooks and injectors (Istio's `sidecar.istio.io/userVolume`
// mounts a hostPath, Vault's injector fetches secrets), CNIs (Multus attaches the networks in
// `k8s.v1.cni.cncf.io/networks`, outside NetworkPolicy), security modules (AppArmor/seccomp keys),
// container runtimes (CRI-O and Kata read dotted annotation names), and every selector — the
// chart's NetworkPolicies, Services and this driver's own watches. So the default refuses whole
// domains whose owners act on keys, instead of a list of exact keys that misses the next one.

/** One family of keys something other than the sandbox acts on. */
interface KeyRule {
  /** DNS domain of the key's prefix: matches `domain/…` and `<sub>.domain/…`. */
  domain?: string;
  /** Start of an unprefixed key (no `/`): container runtimes read dotted annotation names. */
  namePrefix?: string;
  /** Who acts on such keys, for the refusal message. */
  reader: string;
}

/**
 * Keys of the driver, the agent-sandbox controller and the chart's selectors (`openshell.ai/component`):
 * the driver watches, authenticates and routes by them, so no flag opens them.
 */
const DRIVER_OWNED: readonly KeyRule[] = [
  { domain: "openshell.ai", reader: "the driver and its chart select and identify sandboxes and their own pods by it" },
  { domain: "openshell.io", reader: "the gateway authenticates sandboxes by it" },
  { domain: "agents.x-k8s.io", reader: "the agent-sandbox controller owns it" },
];

/** Refused unless the operator allows the key (by prefix) with the kind's flag. */
const ACTED_ON: readonly KeyRule[] = [
  {
    domain: "kubernetes.io",
    reader:
      "Kubernetes reserves it: the kubelet, scheduler, cluster autoscaler, kubectl and admission read keys under it (seccomp, AppArmor), and the chart's app.kubernetes.io labels",
  },
  { domain: "k8s.io", reader: "Kubernetes reserves it for its own components" },
  { domain: "x-k8s.io", reader: "Kubernetes SIG projects (Kueue, Cluster API, agent-sandbox) act on it" },
  { domain: "istio.io", reader: "Istio's sidecar injector and proxy act on it (inject, userVolume, proxyImage, traffic capture)" },
  { domain: "cni.cncf.io", reader: "Multus attaches the networks it names, which NetworkPolicy does not cover" },
  { domain: "multus-cni.io", reader: "Multus replaces the pod's default network with the one it names, out of NetworkPolicy's reach" },
  { domain: "openshift.io", reader: "OpenShift's SCC admission and platform controllers act on it" },
  { domain: "linkerd.io", reader: "Linkerd's proxy injector acts on it" },
  { domain: "kuma.io", reader: "Kuma's sidecar injector acts on it" },
  { domain: "cilium.io", reader: "Cilium acts on it (policy, bandwidth, addressing)" },
  { domain: "projectcalico.org", reader: "Calico assigns the addresses and policies it names" },
  { domain: "ovn.org", reader: "OVN-Kubernetes acts on it (addresses, egress)" },
  { domain: "antrea.io", reader: "Antrea acts on it" },
  { domain: "hashicorp.com", reader: "Vault's agent injector and Consul's mesh injector act on it" },
  { domain: "gke.io", reader: "GKE acts on it (workload identity, networking)" },
  { domain: "cloud.google.com", reader: "GKE acts on it" },
  { domain: "amazonaws.com", reader: "EKS acts on it (IAM roles, security groups for pods)" },
  { domain: "k8s.aws", reader: "AWS controllers act on it" },
  { domain: "azure.com", reader: "AKS acts on it" },
  { domain: "azure.workload.identity", reader: "Azure's workload identity webhook injects credentials for it" },
  { domain: "kyma-project.io", reader: "Kyma's controllers act on it" },
  { domain: "opentelemetry.io", reader: "the OpenTelemetry operator injects sidecars and agents for it" },
  { domain: "dapr.io", reader: "Dapr's sidecar injector acts on it" },
  { domain: "datadoghq.com", reader: "Datadog's admission controller injects agents for it" },
  { domain: "jaegertracing.io", reader: "Jaeger's operator injects sidecars for it" },
  { domain: "kyverno.io", reader: "Kyverno's policies act on it" },
  { domain: "spiffe.io", reader: "SPIRE issues workload identities by it" },
  { domain: "karpenter.sh", reader: "Karpenter acts on it (disruption, provisioning)" },
  { domain: "volcano.sh", reader: "the Volcano scheduler acts on it" },
  { namePrefix: "io.kubernetes.", reader: "CRI-O and containerd read pod annotations of this name (devices, user namespaces, cgroups)" },
  { namePrefix: "io.katacontainers.", reader: "Kata Containers reads it (hypervisor, kernel and VM settings)" },
  { namePrefix: "io.containerd.", reader: "containerd reads it" },
  { namePrefix: "run.oci.", reader: "crun reads it (groups, handlers)" },
  { namePrefix: "dev.gvisor.", reader: "gVisor's runsc reads it where containerd passes pod annotations on (sandbox and mount settings)" },
  { namePrefix: "io.podman.", reader: "Podman reads it" },
];

export type MetadataKind = "annotation" | "label";

export interface KeyRefusal {
  reader: string;
  /** The entry the operator would add to the kind's flag (the exact key); undefined = no flag opens it. */
  allowEntry: string | undefined;
}

function prefixOf(key: string): string | undefined {
  const slash = key.indexOf("/");
  return slash < 0 ? undefined : key.slice(0, slash);
}

function ruleMatches(rule: KeyRule, key: string): boolean {
  const prefix = prefixOf(key);
  if (rule.domain !== undefined) return prefix !== undefined && (prefix === rule.domain || prefix.endsWith(`.${rule.domain}`));
  return prefix === undefined && rule.namePrefix !== undefined && key.startsWith(rule.namePrefix);
}

/** An allow-list entry admits a key it names exactly, or any key under it when it ends with `/`. */
export function allowListAdmits(entries: readonly string[], key: string): boolean {
  return entries.some((entry) => entry === key || (entry.endsWith("/") && key.startsWith(entry)));
}

/** Why no flag can open this key, or undefined when the driver does not own it. */
export function driverOwnedReader(key: string): string | undefined {
  return DRIVER_OWNED.find((rule) => ruleMatches(rule, key))?.reader;
}

/**
 * Undefined when a request may set this (syntactically valid) key; else who acts on it and what to
 * allow. `allowed` is the operator's list for this kind of key.
 */
export function refuseMetadataKey(key: string, allowed: readonly string[]): KeyRefusal | undefined {
  const owned = driverOwnedReader(key);
  if (owned) return { reader: owned, allowEntry: undefined };
  if (allowListAdmits(allowed, key)) return undefined;
  const rule = ACTED_ON.find((r) => ruleMatches(r, key));
  if (!rule) return undefined;
  return { reader: rule.reader, allowEntry: key };
}
