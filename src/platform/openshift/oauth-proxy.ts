// OpenShift's OAuth proxy in front of an exposed sandbox: a sidecar that terminates TLS with a
// service-ca serving certificate, sends every visitor through the cluster's OAuth login, and lets
// through only users who could read the sandbox's Service. It authenticates to the OAuth server as
// the pod's ServiceAccount (`system:serviceaccount:<ns>:<sa>` is an OAuth client whose secret is
// the SA token), which is why the SA needs a redirect reference to the Route and the proxy — and
// only the proxy — gets a token mounted.

import { createHash } from "node:crypto";
import type { V1Container, V1PodSpec, V1Volume } from "@kubernetes/client-node";
import type { SandboxResource } from "../../sandbox/types";
import { exposureName, ownerReferenceTo, sideObjectLabels } from "../side-objects";
import type { SideObject } from "../types";

export const OAUTH_PROXY_CONTAINER = "oauth-proxy";
export const OAUTH_PROXY_PORT = 8443;
/** service-ca writes `tls.crt`/`tls.key` into the Secret this Service annotation names. */
export const ANNOTATION_SERVING_CERT_SECRET = "service.beta.openshift.io/serving-cert-secret-name";

const TLS_VOLUME = "oauth-proxy-tls";
const TLS_DIR = "/etc/tls/private";
const COOKIE_VOLUME = "oauth-proxy-cookie";
const COOKIE_DIR = "/etc/proxy/secrets";
const COOKIE_KEY = "session_secret";
const TOKEN_VOLUME = "oauth-proxy-sa-token";
/** Where the proxy looks for its client secret, namespace and API CA, as in any automounted pod. */
const TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/**
 * The kubelet rotates the file, but the proxy reads its client secret once at start. 3607 s is the
 * value the automounted token uses: the API server extends a pod-bound token requested with it to
 * a year (--service-account-extend-token-expiration, on in OpenShift), so a long-running proxy
 * keeps a valid client secret.
 */
const TOKEN_EXPIRATION_SECONDS = 3607;
/** AES-256 key size; oauth-proxy base64-decodes a secret that decodes to 16, 24 or 32 bytes. */
const COOKIE_SECRET_BYTES = 32;
/** The agent container's resolved sandbox UID (src/sandbox/env.ts setIdentityEnv). */
const SANDBOX_UID_ENV = "OPENSHELL_SANDBOX_UID";

const REDIRECT_REFERENCE_PREFIX = "serviceaccounts.openshift.io/oauth-redirectreference.";
/** The name part of an annotation key is at most 63 characters; the prefix above takes 24 of them. */
const REDIRECT_KEY_SUFFIX_MAX = 63 - "oauth-redirectreference.".length;
const HASH_LENGTH = 8;

export type RandomBytes = (size: number) => Uint8Array;

/** Made by OpenShift's service-ca operator once the proxy's Service carries the annotation. */
export function servingCertSecretName(crName: string): string {
  return `${exposureName(crName)}-tls`;
}

export function cookieSecretName(crName: string): string {
  return `${exposureName(crName)}-oauth-proxy`;
}

export function podServiceAccount(pod: V1PodSpec): string {
  return pod.serviceAccountName || "default";
}

/**
 * The proxy runs under a UID of its own, never the sandbox's: its ServiceAccount token is a
 * long-lived OAuth client secret, and in a pod that shares its PID namespace (the sidecar
 * topology) a process may open another's `/proc/<pid>/root`, `environ` and `mem` when the kernel's
 * ptrace access check passes (`ptrace_may_access`, PTRACE_MODE_READ_FSCREDS): same UID, or
 * CAP_SYS_PTRACE, which the workload lacks. The UID is the first one after the sandbox UID that no
 * other container of the pod runs as (the sidecar's proxy, the supervisors), so it is non-root and,
 * taken from the namespace's `openshift.io/sa.scc.uid-range`, also admitted under a MustRunAsRange
 * SCC. The shipped SCC's runAsUser is RunAsAny, so without one the proxy image's USER (possibly
 * root) would apply.
 */
export function oauthProxyUid(pod: V1PodSpec, uidRange: string | undefined): number {
  const sandbox = sandboxUid(pod);
  const taken = new Set<number>([sandbox]);
  for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
    const uid = container.securityContext?.runAsUser;
    if (uid !== undefined) taken.add(uid);
  }
  let uid = sandbox + 1;
  while (taken.has(uid)) uid++;
  const range = parseRange(uidRange);
  if (range && (uid < range.start || uid >= range.start + range.size)) {
    throw new Error(`no UID of the namespace's range ${uidRange} is left for the OAuth proxy beside the sandbox's ${sandbox}`);
  }
  return uid;
}

function parseRange(annotation: string | undefined): { start: number; size: number } | undefined {
  const match = /^(\d+)\/(\d+)$/.exec(annotation?.trim() ?? "");
  return match ? { start: Number(match[1]), size: Number(match[2]) } : undefined;
}

function sandboxUid(pod: V1PodSpec): number {
  for (const container of pod.containers) {
    const value = container.env?.find((e) => e.name === SANDBOX_UID_ENV)?.value;
    if (value !== undefined && /^\d+$/.test(value)) return Number(value);
  }
  throw new Error(`the rendered pod carries no ${SANDBOX_UID_ENV}: the OAuth proxy cannot be given a UID beside the sandbox user's`);
}

export interface OAuthProxyOptions {
  image: string;
  /** The namespace's `openshift.io/sa.scc.uid-range`, if it has one. */
  uidRange?: string;
  /** The sandbox port the proxy forwards to, on the pod's loopback. */
  upstreamPort: number;
}

export function oauthProxyContainer(resource: SandboxResource, namespace: string, opts: OAuthProxyOptions): V1Container {
  const crName = resource.metadata.name ?? "";
  const pod = resource.spec.podTemplate.spec;
  // Only users allowed to read the sandbox's own Service get through: without a SAR the proxy
  // would admit every user who can log in to the cluster.
  const sar = { namespace, resource: "services", name: exposureName(crName), verb: "get" };
  return {
    name: OAUTH_PROXY_CONTAINER,
    image: opts.image,
    args: [
      "--provider=openshift",
      `--https-address=:${OAUTH_PROXY_PORT}`,
      "--http-address=",
      `--upstream=http://localhost:${opts.upstreamPort}`,
      `--openshift-service-account=${podServiceAccount(pod)}`,
      `--openshift-sar=${JSON.stringify(sar)}`,
      `--tls-cert=${TLS_DIR}/tls.crt`,
      `--tls-key=${TLS_DIR}/tls.key`,
      `--cookie-secret-file=${COOKIE_DIR}/${COOKIE_KEY}`,
    ],
    ports: [{ name: "https", containerPort: OAUTH_PROXY_PORT, protocol: "TCP" }],
    securityContext: {
      runAsUser: oauthProxyUid(pod, opts.uidRange),
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    },
    volumeMounts: [
      { name: TLS_VOLUME, mountPath: TLS_DIR, readOnly: true },
      { name: COOKIE_VOLUME, mountPath: COOKIE_DIR, readOnly: true },
      { name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true },
    ],
  };
}

/**
 * Sandbox pods render `automountServiceAccountToken: false` so the workload never holds the SA
 * token; this projected volume is the automount's content, mounted into the proxy alone.
 */
export function oauthProxyVolumes(crName: string): V1Volume[] {
  return [
    { name: TLS_VOLUME, secret: { secretName: servingCertSecretName(crName) } },
    { name: COOKIE_VOLUME, secret: { secretName: cookieSecretName(crName) } },
    {
      name: TOKEN_VOLUME,
      projected: {
        sources: [
          { serviceAccountToken: { path: "token", expirationSeconds: TOKEN_EXPIRATION_SECONDS } },
          { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
          { downwardAPI: { items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }] } },
        ],
      },
    },
  ];
}

/** The proxy's cookie-encryption key: generated once per sandbox, never part of the CR. */
export function cookieSecret(created: SandboxResource, randomBytes: RandomBytes): SideObject {
  const crName = created.metadata.name ?? "";
  const namespace = created.metadata.namespace ?? "";
  return {
    path: `/api/v1/namespaces/${namespace}/secrets`,
    resource: "secrets",
    body: {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: cookieSecretName(crName),
        namespace,
        labels: sideObjectLabels(created),
        ownerReferences: [ownerReferenceTo(created)],
      },
      type: "Opaque",
      stringData: { [COOKIE_KEY]: Buffer.from(randomBytes(COOKIE_SECRET_BYTES)).toString("base64") },
    },
  };
}

/**
 * OpenShift's OAuth server redirects a client ServiceAccount's logins only to hosts of the Routes
 * its redirect-reference annotations name. The key's suffix only has to be unique per SA; long
 * names are cut and end in a hash, as exposure names are.
 */
export function oauthRedirectAnnotation(crName: string): Record<string, string> {
  const route = exposureName(crName);
  const suffix =
    route.length <= REDIRECT_KEY_SUFFIX_MAX
      ? route
      : `${route.slice(0, REDIRECT_KEY_SUFFIX_MAX - HASH_LENGTH - 1).replace(/-+$/, "")}-${createHash("sha256").update(route).digest("hex").slice(0, HASH_LENGTH)}`;
  const reference = { kind: "OAuthRedirectReference", apiVersion: "v1", reference: { kind: "Route", name: route } };
  return { [`${REDIRECT_REFERENCE_PREFIX}${suffix}`]: JSON.stringify(reference) };
}
