// How a sandbox proves itself to the gateway: a projected ServiceAccount token with the audience
// the gateway's TokenReview demands (`auth/k8s_sa.rs`), exchanged at start-up for a gateway token,
// and, when the gateway speaks mTLS, a client certificate Secret.

import type { V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { CLIENT_TLS_DIR, SA_TOKEN_DIR } from "./container-paths";
import type { RenderSettings } from "./settings";

export const SA_TOKEN_VOLUME = "openshell-sa-token";
const SA_TOKEN_AUDIENCE = "openshell-gateway";
export const CLIENT_TLS_VOLUME = "openshell-client-tls";

/**
 * Combined: only the root supervisor reads credentials, so owner-only. Sidecar: the supervisors
 * run as the sandbox group (the pod's fsGroup), so group-readable.
 */
export function secretDefaultMode(settings: Pick<RenderSettings, "supervisorTopology">): number {
  return settings.supervisorTopology === "sidecar" ? 0o440 : 0o400;
}

export function clientTlsVolumes(settings: RenderSettings): V1Volume[] {
  if (settings.clientTlsSecretName === "") return [];
  return [
    {
      name: CLIENT_TLS_VOLUME,
      secret: { secretName: settings.clientTlsSecretName, defaultMode: secretDefaultMode(settings) },
    },
  ];
}

export function clientTlsMounts(settings: Pick<RenderSettings, "clientTlsSecretName">): V1VolumeMount[] {
  if (settings.clientTlsSecretName === "") return [];
  return [{ name: CLIENT_TLS_VOLUME, mountPath: CLIENT_TLS_DIR, readOnly: true }];
}

/** kubelet writes the token and rotates it well before saTokenTtlSeconds runs out. */
export function saTokenVolume(settings: RenderSettings): V1Volume {
  return {
    name: SA_TOKEN_VOLUME,
    projected: {
      sources: [
        { serviceAccountToken: { audience: SA_TOKEN_AUDIENCE, expirationSeconds: settings.saTokenTtlSeconds, path: "token" } },
      ],
      defaultMode: secretDefaultMode(settings),
    },
  };
}

export function saTokenMount(): V1VolumeMount {
  return { name: SA_TOKEN_VOLUME, mountPath: SA_TOKEN_DIR, readOnly: true };
}
