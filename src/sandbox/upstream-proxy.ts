// A corporate HTTP proxy the network supervisor sends sandbox egress through. It travels on the
// supervisor's command line, never in its environment, so neither the image's ENV nor the user's
// environment can change it; credentials come from a Secret mounted only into the container that
// runs network supervision (upstream `upstream_proxy_cli_args`).

import type { V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { UPSTREAM_PROXY_AUTH_DIR, UPSTREAM_PROXY_AUTH_FILE, UPSTREAM_PROXY_AUTH_FILE_NAME } from "./container-paths";
import type { RenderSettings } from "./settings";
import { secretDefaultMode } from "./gateway-credentials";

export const UPSTREAM_PROXY_AUTH_VOLUME = "openshell-upstream-proxy-auth";

type ProxySettings = Pick<RenderSettings, "upstreamProxy">;

function hasUpstreamProxyCredentials(settings: ProxySettings): boolean {
  const { authSecretName, authSecretKey } = settings.upstreamProxy;
  return authSecretName !== "" && authSecretKey !== "";
}

export function upstreamProxyArgs(settings: ProxySettings): string[] {
  const proxy = settings.upstreamProxy;
  const args: string[] = [];
  if (proxy.url !== "") args.push("--upstream-proxy", proxy.url);
  if (proxy.noProxy !== "") args.push("--upstream-no-proxy", proxy.noProxy);
  if (hasUpstreamProxyCredentials(settings)) args.push("--upstream-proxy-auth-file", UPSTREAM_PROXY_AUTH_FILE);
  if (proxy.allowInsecure) args.push("--upstream-proxy-auth-allow-insecure");
  if (proxy.connectByHostname) args.push("--upstream-proxy-connect-by-hostname");
  return args;
}

/** Only the Secret's one key is projected, under the file name the supervisor is told to read. */
export function upstreamProxyAuthVolumes(settings: RenderSettings): V1Volume[] {
  if (!hasUpstreamProxyCredentials(settings)) return [];
  const { authSecretName, authSecretKey } = settings.upstreamProxy;
  return [
    {
      name: UPSTREAM_PROXY_AUTH_VOLUME,
      secret: {
        secretName: authSecretName,
        defaultMode: secretDefaultMode(settings),
        items: [{ key: authSecretKey, path: UPSTREAM_PROXY_AUTH_FILE_NAME }],
      },
    },
  ];
}

export function upstreamProxyAuthMounts(settings: ProxySettings): V1VolumeMount[] {
  if (!hasUpstreamProxyCredentials(settings)) return [];
  return [{ name: UPSTREAM_PROXY_AUTH_VOLUME, mountPath: UPSTREAM_PROXY_AUTH_DIR, readOnly: true }];
}
