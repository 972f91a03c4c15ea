// How a Kyma sandbox is reached from outside: a Service of its pod, a NetworkPolicy that lets only
// the Istio ingress gateway in, and either an APIRule (Kyma's api-gateway) or a plain Istio
// VirtualService on the Kyma gateway. Pure: every object is owner-referenced to the created CR.
import { createHash } from "node:crypto";
import { NAME_SEPARATOR } from "../../sandbox/name-joins";
import { LABEL_SANDBOX_NAME, LABEL_SANDBOX_WORKSPACE } from "../../sandbox/labels";
import type { SandboxResource } from "../../sandbox/types";
import { isDns1123Label } from "../../sandbox/dns";
import { exposureName, ownerReferenceTo, podSelector, sideObjectLabels } from "../side-objects";
import type { SideObject } from "../types";

export interface KymaExposure {
  kind: "apirule" | "virtualservice";
  /** Container port of the sandbox the Service targets. */
  port: number;
  /** `namespace/name` of the Istio Gateway (--kyma-gateway). */
  gateway: string;
  /** Public domain of the gateway's hosts (`*.<domain>`), resolved at start. */
  domain: string;
}

/** Every HTTP method an APIRule v2 rule accepts: the sandbox port decides what it serves. */
const ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];
/** Where Kyma runs its Istio ingress gateway pods (label `istio: ingressgateway`). */
const INGRESS_NAMESPACE = "istio-system";
const MAX_HOST = 253;

export function kymaSideObjects(created: SandboxResource, exposure: KymaExposure): SideObject[] {
  const namespace = created.metadata.namespace;
  if (!namespace) throw new Error("side objects need the created Sandbox's namespace");
  const name = exposureName(created.metadata.name ?? "");
  const metadata = (): Metadata => ({ name, namespace, labels: sideObjectLabels(created), ownerReferences: [ownerReferenceTo(created)] });
  const selector = podSelector(created);
  const route =
    exposure.kind === "apirule"
      ? apiRule(metadata(), exposure)
      : virtualService(metadata(), exposure, virtualServiceHost(created, name, exposure.domain));
  return [
    {
      path: `/api/v1/namespaces/${namespace}/services`,
      resource: "services",
      body: {
        apiVersion: "v1",
        kind: "Service",
        metadata: metadata(),
        // Istio picks the protocol from the port name; `http` lets the gateway route by host and path.
        spec: { type: "ClusterIP", selector, ports: [{ name: "http", protocol: "TCP", port: exposure.port, targetPort: exposure.port }] },
      },
    },
    {
      path: `/apis/networking.k8s.io/v1/namespaces/${namespace}/networkpolicies`,
      resource: "networkpolicies.networking.k8s.io",
      body: {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: metadata(),
        // Policies add up: this one opens only the exposed port, only to the ingress gateway. A pod
        // no other ingress policy selects becomes ingress-isolated by it, which is the point.
        spec: {
          podSelector: { matchLabels: { ...selector } },
          policyTypes: ["Ingress"],
          ingress: [
            {
              from: [
                {
                  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": INGRESS_NAMESPACE } },
                  podSelector: { matchLabels: { istio: "ingressgateway" } },
                },
              ],
              ports: [{ protocol: "TCP", port: exposure.port }],
            },
          ],
        },
      },
    },
    route,
  ];
}

type Metadata = SideObject["body"]["metadata"];

/**
 * A short host (one DNS label): api-gateway takes the domain from the Gateway's `*.<domain>`
 * hosts, so the APIRule stays right whatever the driver resolved. `noAuth` means the gateway lets
 * every request through to the sandbox port: whatever listens there must authenticate its clients
 * itself. APIRule v2 also needs the pod in the mesh (--istio-inject=true) or it reports Error.
 */
function apiRule(metadata: Metadata, exposure: KymaExposure): SideObject {
  return {
    path: `/apis/gateway.kyma-project.io/v2/namespaces/${metadata.namespace}/apirules`,
    resource: "apirules.gateway.kyma-project.io",
    body: {
      apiVersion: "gateway.kyma-project.io/v2",
      kind: "APIRule",
      metadata,
      spec: {
        gateway: exposure.gateway,
        hosts: [metadata.name],
        service: { name: metadata.name, namespace: metadata.namespace, port: exposure.port },
        rules: [{ path: "/*", methods: ALL_METHODS, noAuth: true }],
      },
    },
  };
}

/** Plain Istio routing: works without a sidecar in the sandbox, and without any authentication. */
function virtualService(metadata: Metadata, exposure: KymaExposure, host: string): SideObject {
  return {
    path: `/apis/networking.istio.io/v1/namespaces/${metadata.namespace}/virtualservices`,
    resource: "virtualservices.networking.istio.io",
    body: {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata,
      spec: {
        hosts: [host],
        gateways: [exposure.gateway],
        http: [
          {
            route: [
              { destination: { host: `${metadata.name}.${metadata.namespace}.svc.cluster.local`, port: { number: exposure.port } } },
            ],
          },
        ],
      },
    },
  };
}

/**
 * `{workspace}--{name}.{domain}`, the host the Rust Kyma driver gave sandboxes, when that is a
 * usable DNS name: one label of at most 63 characters, and not `xx--…`, which DNS reserves for
 * IDNA (`xn--`) and certificate issuers refuse. Hosts are shared by every namespace behind the
 * Kyma gateway, so the label must name one (workspace, name) pair in every workspace mode: neither
 * part may contain `--` (sandbox/name-joins.ts), so a label with exactly one `--` splits back into
 * one pair. Otherwise `sb-{workspace}-{name}` cut to fit and ending in a 16-hex-digit hash of the
 * pair: it contains no `--`, so it never equals another sandbox's first-form host, and the hash
 * keeps two fallbacks apart (the CR name alone would not: outside shared mode it lacks the workspace).
 */
export function virtualServiceHost(created: SandboxResource, fallbackLabel: string, domain: string): string {
  const labels = created.metadata.labels ?? {};
  const workspace = labels[LABEL_SANDBOX_WORKSPACE];
  const name = labels[LABEL_SANDBOX_NAME];
  if (workspace === undefined || name === undefined) return `${fallbackLabel}.${domain}`;
  const label = `${workspace}${NAME_SEPARATOR}${name}`;
  const host = `${label}.${domain}`;
  if (isDns1123Label(label) && label.slice(2, 4) !== "--" && host.length <= MAX_HOST) return host;
  return `${hashedHostLabel(workspace, name)}.${domain}`;
}

const HOST_HASH_LENGTH = 16;
const MAX_LABEL = 63;

function hashedHostLabel(workspace: string, name: string): string {
  const hash = createHash("sha256").update(`${workspace}${NAME_SEPARATOR}${name}`).digest("hex").slice(0, HOST_HASH_LENGTH);
  const stem = `sb-${workspace}-${name}`.replaceAll(/-{2,}/g, "-").slice(0, MAX_LABEL - HOST_HASH_LENGTH - 1).replace(/-+$/, "");
  return `${stem}-${hash}`;
}
