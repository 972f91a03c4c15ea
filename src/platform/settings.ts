// Driver-wide settings of the platform adapters (OpenShift, Kyma), from the `serve` flags.

export type PlatformName = "kubernetes" | "openshift" | "kyma";
/** `auto` decides from API discovery at start (src/platform/detect.ts). */
export type PlatformChoice = "auto" | PlatformName;
/**
 * How a sandbox is reachable from outside the cluster: not at all, an OpenShift Route, a Kyma
 * APIRule, or an Istio VirtualService on the Kyma gateway. Each comes with a Service of the pod.
 */
export type Exposure = "none" | "route" | "apirule" | "virtualservice";

export interface PlatformSettings {
  platform: PlatformChoice;
  expose: Exposure;
  /** Container port of the sandbox that the exposure's Service targets. */
  exposePort: number;
  /** OpenShift: the SCC sandbox pods are pinned to (`openshift.io/required-scc`). */
  openshiftScc: string;
  /** OpenShift: Route host domain (`<cr>.<domain>`); empty = the router picks the host. */
  routeDomain: string;
  /** OpenShift: an OAuth proxy sidecar in front of the exposed port (needs --expose route). */
  openshiftOauthProxy: boolean;
  openshiftOauthProxyImage: string;
  /** Kyma: `sidecar.istio.io/inject` on sandbox pods. */
  istioInject: boolean;
  /** Kyma: public domain of exposed sandboxes; empty = kube-system/shoot-info, else local.kyma.dev. */
  clusterDomain: string;
  /** Kyma: the Istio Gateway exposures attach to, `namespace/name`. */
  kymaGateway: string;
}
