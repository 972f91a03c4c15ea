// Platform settings for unit tests: every flag at its default, overridable per test.
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
