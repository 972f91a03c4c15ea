// The Sandbox CR as OpenShift needs it. Pure: a new object every call, the input untouched, and
// amending an amended CR changes nothing more.

import type { SandboxResource } from "../../sandbox/types";
import type { PlatformSettings } from "../settings";
import type { TargetNamespace } from "../types";
import { OAUTH_PROXY_CONTAINER, oauthProxyContainer, oauthProxyVolumes } from "./oauth-proxy";
import { ANNOTATION_SCC_UID_RANGE } from "../../sandbox/identity";
import { ANNOTATION_SCC_MCS } from "./scc-namespace";

/**
 * SCC admission otherwise picks any SCC the pod's users may use, by priority and restrictiveness,
 * which can change when an administrator adds one; OpenShift ≥ 4.14 admits the pod only under the
 * SCC this annotation names (older versions ignore it).
 */
export const ANNOTATION_REQUIRED_SCC = "openshift.io/required-scc";

export type AmendSettings = Pick<PlatformSettings, "openshiftScc" | "expose" | "exposePort" | "openshiftOauthProxy" | "openshiftOauthProxyImage">;

export function amendForOpenShift(resource: SandboxResource, target: TargetNamespace, settings: AmendSettings): SandboxResource {
  const amended = structuredClone(resource);
  const template = amended.spec.podTemplate;
  template.metadata = {
    ...template.metadata,
    annotations: { ...template.metadata?.annotations, [ANNOTATION_REQUIRED_SCC]: settings.openshiftScc },
  };
  const pod = template.spec;

  // An SCC whose seLinuxContext is RunAsAny assigns no level, and the runtime then gives each pod
  // a random one, so a pod that replaces this one could not read the files its workspace claim
  // holds. The namespace's level is the one a MustRunAs SCC would assign anyway.
  const mcs = target.annotations[ANNOTATION_SCC_MCS];
  if (mcs !== undefined && mcs !== "" && pod.securityContext?.seLinuxOptions?.level === undefined) {
    pod.securityContext = {
      ...pod.securityContext,
      seLinuxOptions: { ...pod.securityContext?.seLinuxOptions, level: mcs },
    };
  }

  // The proxy is reachable only through the Route's Service (config refuses it without one).
  const proxied = settings.openshiftOauthProxy && settings.expose === "route";
  if (proxied && !pod.containers.some((c) => c.name === OAUTH_PROXY_CONTAINER)) {
    const proxy = oauthProxyContainer(amended, target.name, {
      image: settings.openshiftOauthProxyImage,
      upstreamPort: settings.exposePort,
      ...(target.annotations[ANNOTATION_SCC_UID_RANGE] !== undefined ? { uidRange: target.annotations[ANNOTATION_SCC_UID_RANGE] } : {}),
    });
    pod.containers = [...pod.containers, proxy];
    pod.volumes = [...(pod.volumes ?? []), ...oauthProxyVolumes(amended.metadata.name ?? "")];
  }
  return amended;
}
