// `--expose route`: a ClusterIP Service of the sandbox pod and an OpenShift Route to it. Without
// the OAuth proxy the router terminates TLS (edge) and speaks plain HTTP to the sandbox port; with
// it, the proxy terminates TLS in the pod with a service-ca certificate, so the router re-encrypts
// (it trusts the service CA for reencrypt Routes without a destination CA of their own).

import { NAME_SEPARATOR } from "../../sandbox/name-joins";
import type { SandboxResource } from "../../sandbox/types";
import type { WorkspaceMode } from "../../sandbox/settings";
import type { PlatformSettings } from "../settings";
import { exposureName, ownerReferenceTo, podSelector, sideObjectLabels } from "../side-objects";
import type { SideObject } from "../types";
import { ANNOTATION_SERVING_CERT_SECRET, OAUTH_PROXY_PORT, servingCertSecretName } from "./oauth-proxy";

export type ExposureSettings = Pick<PlatformSettings, "exposePort" | "routeDomain" | "openshiftOauthProxy">;

/** Service and Route share one name and one port name, so the Route can point at the port by name. */
function servicePort(settings: ExposureSettings): { name: string; port: number } {
  return settings.openshiftOauthProxy ? { name: "https", port: OAUTH_PROXY_PORT } : { name: "http", port: settings.exposePort };
}

function metadataOf(created: SandboxResource, annotations?: Record<string, string>): SideObject["body"]["metadata"] {
  return {
    name: exposureName(created.metadata.name ?? ""),
    namespace: created.metadata.namespace ?? "",
    labels: sideObjectLabels(created),
    ...(annotations ? { annotations } : {}),
    ownerReferences: [ownerReferenceTo(created)],
  };
}

export function exposureService(created: SandboxResource, settings: ExposureSettings): SideObject {
  const { name, port } = servicePort(settings);
  const crName = created.metadata.name ?? "";
  const annotations = settings.openshiftOauthProxy ? { [ANNOTATION_SERVING_CERT_SECRET]: servingCertSecretName(crName) } : undefined;
  return {
    path: `/api/v1/namespaces/${created.metadata.namespace ?? ""}/services`,
    resource: "services",
    body: {
      apiVersion: "v1",
      kind: "Service",
      metadata: metadataOf(created, annotations),
      spec: {
        type: "ClusterIP",
        selector: podSelector(created),
        ports: [{ name, port, targetPort: port, protocol: "TCP" }],
      },
    },
  };
}

/**
 * Router hosts are cluster-wide and the first Route to claim one keeps it. In shared mode the CR
 * name already carries the workspace; in the other modes two workspaces may each hold a sandbox of
 * the same name, so the namespace joins the host label (cut and hashed to a 63-character label
 * like every exposure name). The join is `--`, which neither a sandbox name nor a workspace may
 * contain (sandbox/name-joins.ts), so the label splits back into one (name, namespace) pair: with
 * a single dash, name `a-b` in namespace `c` and name `a` in namespace `b-c` shared one host.
 */
export function routeHost(created: SandboxResource, routeDomain: string, workspaceMode: WorkspaceMode): string | undefined {
  if (routeDomain === "") return undefined;
  const crName = created.metadata.name ?? "";
  const label = workspaceMode === "shared" ? exposureName(crName) : exposureName(`${crName}${NAME_SEPARATOR}${created.metadata.namespace ?? ""}`);
  return `${label}.${routeDomain}`;
}

export function exposureRoute(created: SandboxResource, settings: ExposureSettings, workspaceMode: WorkspaceMode): SideObject {
  const name = exposureName(created.metadata.name ?? "");
  const host = routeHost(created, settings.routeDomain, workspaceMode);
  return {
    path: `/apis/route.openshift.io/v1/namespaces/${created.metadata.namespace ?? ""}/routes`,
    resource: "routes.route.openshift.io",
    body: {
      apiVersion: "route.openshift.io/v1",
      kind: "Route",
      metadata: metadataOf(created),
      spec: {
        // No host: the router assigns `<route>-<namespace>.<apps domain>`.
        ...(host !== undefined ? { host } : {}),
        to: { kind: "Service", name },
        port: { targetPort: servicePort(settings).name },
        tls: {
          termination: settings.openshiftOauthProxy ? "reencrypt" : "edge",
          insecureEdgeTerminationPolicy: "Redirect",
        },
      },
    },
  };
}
