// Platform settings for unit tests: every flag at its default, overridable per test.
import { KubernetesAdapter } from "../../src/platform/kubernetes";
import type { PlatformSettings } from "../../src/platform/settings";

export function makePlatformSettings(overrides: Partial<PlatformSettings> = {}): PlatformSettings {
  return {
    platform: "auto",
    expose: "none",
    exposePort: 8080,
    openshiftScc: "openshell-sandbox",
    routeDomain: "",
    openshiftOauthProxy: false,
    openshiftOauthProxyImage: "quay.io/openshift/origin-oauth-proxy:4.16",
    istioInject: false,
    clusterDomain: "",
    kymaGateway: "kyma-system/kyma-gateway",
    ...overrides,
  };
}

/** Plain Kubernetes, as `--platform=kubernetes` gives it: the driver's behaviour before platforms. */
export function plainKubernetes(): KubernetesAdapter {
  return new KubernetesAdapter({ name: "kubernetes", evidence: "--platform=kubernetes", version: "" }, { expose: "none" });
}
