// REST paths of the objects the driver reads and writes, and the scope it lists them in. Shared
// mode keeps everything in the driver's namespace; managed and operator modes put each workspace
// in its own namespace, so lookups by sandbox id and the watches span the cluster, narrowed by
// label selector (upstream's `Api::all_with`).
import type { RenderSettings } from "../sandbox/settings";

/** The namespace lookups and watches are confined to; undefined = every namespace. */
export function lookupNamespace(settings: Pick<RenderSettings, "workspaceMode" | "namespace">): string | undefined {
  return settings.workspaceMode === "shared" ? settings.namespace : undefined;
}

export function sandboxesPath(apiVersion: string, namespace: string | undefined): string {
  return `/apis/agents.x-k8s.io/${apiVersion}${namespace === undefined ? "" : `/namespaces/${namespace}`}/sandboxes`;
}

export function podsPath(namespace: string | undefined): string {
  return `/api/v1${namespace === undefined ? "" : `/namespaces/${namespace}`}/pods`;
}

export function eventsPath(namespace: string): string {
  return `/api/v1/namespaces/${namespace}/events`;
}

export const NAMESPACES_PATH = "/api/v1/namespaces";

export function namespacePath(name: string): string {
  return `${NAMESPACES_PATH}/${name}`;
}

/** Collection path of a core/v1 or networking/v1 kind inside one namespace. */
export function namespacedPath(namespace: string, kind: "secrets" | "serviceaccounts" | "networkpolicies"): string {
  const group = kind === "networkpolicies" ? "/apis/networking.k8s.io/v1" : "/api/v1";
  return `${group}/namespaces/${namespace}/${kind}`;
}
