// Every `serve` flag: its description, default, the environment variables that may set it, and
// where its parsed value goes. A flag `--foo-bar` is also read from OPENSHELL_DRIVER_FOO_BAR and,
// where upstream's driver has the same setting, from upstream's variable name, so the gateway's
// reference deployment (one env shared by gateway and driver) configures this driver too.
import type { PlatformSettings } from "../platform/settings";
import type { ManagedSshIngress, RenderSettings, RequestPolicy, UpstreamProxy } from "../sandbox/settings";
import {
  absolutePath,
  bool,
  ConfigError,
  dnsLabel,
  dnsSubdomain,
  dnsSubdomainList,
  endpoint,
  image,
  integer,
  labelKeyList,
  labelMap,
  metadataKeyAllowList,
  namespacedName,
  oneOf,
  optionalAbsolutePath,
  optionalDnsLabel,
  optionalDnsSubdomain,
  optionalIp,
  parseDuration,
  port,
  quantity,
  secretNames,
  securityProfile,
  socketPath,
  text,
  type Parser,
} from "./value-parsers";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "silent";
export type LogFormat = "json" | "pretty";
export type SandboxApiVersionChoice = "auto" | "v1beta1" | "v1alpha1";

/** Settings every rendered sandbox shares; the API version is added once it is detected. */
export type DriverWideSettings = Omit<RenderSettings, "apiVersion">;

/** How the process itself runs. */
export interface ServerConfig {
  socket: string;
  maxRequestBytes: number;
  kubeconfig: string | undefined;
  sandboxApiVersion: SandboxApiVersionChoice;
  healthPort: number;
  healthAddress: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
  kubeTimeoutMs: number;
  stopTimeoutMs: number;
}

export interface Config {
  server: ServerConfig;
  render: DriverWideSettings;
  platform: PlatformSettings;
}

/** A Config under construction: every value starts unset and is filled flag by flag. */
export interface ConfigDraft {
  server: Partial<ServerConfig>;
  render: Partial<Omit<DriverWideSettings, "upstreamProxy" | "managedSshIngress" | "requestPolicy">> & {
    upstreamProxy: Partial<UpstreamProxy>;
    managedSshIngress: Partial<ManagedSshIngress>;
    requestPolicy: Partial<RequestPolicy>;
  };
  platform: Partial<PlatformSettings>;
}

export interface FlagSpec {
  description: string;
  /** Default as the user would type it; undefined = unset. */
  fallback: string | undefined;
  /** Upstream's environment variables for the same setting, read after ours. */
  aliases?: readonly string[];
  /** A switch: `--flag` alone means true, `--flag=false` or `--no-flag` false. */
  boolean?: true;
  apply: (draft: ConfigDraft, raw: string, flag: string) => void;
}

/** Largest sandbox or proxy id upstream accepts (`MAX_SANDBOX_UID`): 2^32-2, never the overflow id. */
const MAX_ID = 4_294_967_294;

function server<K extends keyof ServerConfig>(key: K, parse: Parser<ServerConfig[K]>): FlagSpec["apply"] {
  return (draft, raw, flag) => {
    draft.server[key] = parse(raw, flag);
  };
}

function render<K extends Exclude<keyof DriverWideSettings, "upstreamProxy" | "managedSshIngress" | "requestPolicy">>(
  key: K,
  parse: Parser<DriverWideSettings[K]>,
): FlagSpec["apply"] {
  return (draft, raw, flag) => {
    draft.render[key] = parse(raw, flag);
  };
}

function proxy<K extends keyof UpstreamProxy>(key: K, parse: Parser<UpstreamProxy[K]>): FlagSpec["apply"] {
  return (draft, raw, flag) => {
    draft.render.upstreamProxy[key] = parse(raw, flag);
  };
}

function sshIngress<K extends keyof ManagedSshIngress>(key: K, parse: Parser<ManagedSshIngress[K]>): FlagSpec["apply"] {
  return (draft, raw, flag) => {
    draft.render.managedSshIngress[key] = parse(raw, flag);
  };
}

function requestPolicy<K extends keyof RequestPolicy>(key: K, parse: Parser<RequestPolicy[K]>): FlagSpec["apply"] {
  return (draft, raw, flag) => {
    draft.render.requestPolicy[key] = parse(raw, flag);
  };
}

function platform<K extends keyof PlatformSettings>(key: K, parse: Parser<PlatformSettings[K]>): FlagSpec["apply"] {
  return (draft, raw, flag) => {
    draft.platform[key] = parse(raw, flag);
  };
}

const pullPolicy = oneOf("", "Always", "IfNotPresent", "Never");

/** Upstream's rule (`effective_sa_token_ttl_secs`): 0 or less means 3600; else clamped to [600, 86400]. */
const saTokenTtl: Parser<number> = (raw, flag) => {
  const seconds = integer(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)(raw, flag);
  return seconds <= 0 ? 3600 : Math.min(86_400, Math.max(600, seconds));
};

const BYTE_UNITS: Record<string, number> = { "": 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };

/** A size in bytes, plain or with a binary suffix (65536, 512Ki, 4Mi), from 1Ki to 1Gi. */
const byteSize: Parser<number> = (raw, flag) => {
  const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(raw.trim());
  const bytes = match ? Number(match[1]) * BYTE_UNITS[match[2] ?? ""]! : Number.NaN;
  if (!(bytes >= 1024 && bytes <= 1024 ** 3)) throw new ConfigError(flag, `"${raw}" is not a size from 1Ki to 1Gi (e.g. 4Mi, 65536)`);
  return bytes;
};

export const FLAGS = {
  socket: { description: "Unix socket the gateway connects to; its directory is created 0700 if missing (so a shared emptyDir holds it in a private subdirectory)", fallback: "/var/run/openshell-compute/driver/driver.sock", aliases: ["OPENSHELL_COMPUTE_DRIVER_SOCKET"], apply: server("socket", socketPath) },
  "max-request-bytes": { description: "Largest gRPC request message accepted; a larger one is refused with RESOURCE_EXHAUSTED before it is read", fallback: "4Mi", apply: server("maxRequestBytes", byteSize) },
  namespace: { description: "Namespace of Sandbox resources (shared mode) and of the Secrets copied into workspace namespaces", fallback: "openshell-system", aliases: ["OPENSHELL_SANDBOX_NAMESPACE"], apply: render("namespace", dnsLabel) },
  kubeconfig: { description: "Kubeconfig file (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)", fallback: undefined, apply: server("kubeconfig", text) },
  "gateway-id": { description: "Gateway id stamped on every resource (label value)", fallback: "openshell", aliases: ["OPENSHELL_GATEWAY_ID"], apply: render("gatewayId", dnsLabel) },
  "workspace-mode": { description: "Where workspaces live: shared (one namespace) | managed (a namespace per workspace, created and deleted by the driver) | operator (a namespace per workspace, made by someone else)", fallback: "shared", aliases: ["OPENSHELL_WORKSPACE_MODE"], apply: render("workspaceMode", oneOf("shared", "managed", "operator")) },
  "default-image": { description: "Sandbox image when a request names none", fallback: "ghcr.io/nvidia/openshell-community/sandboxes/base:latest", aliases: ["OPENSHELL_SANDBOX_IMAGE"], apply: render("defaultImage", image(true)) },
  "image-pull-policy": { description: "Agent image pull policy (Always|IfNotPresent|Never; empty = Kubernetes default)", fallback: "", aliases: ["OPENSHELL_SANDBOX_IMAGE_PULL_POLICY"], apply: render("imagePullPolicy", pullPolicy) },
  "image-pull-secrets": { description: "Comma-separated image pull Secret names", fallback: "", aliases: ["OPENSHELL_SANDBOX_IMAGE_PULL_SECRETS"], apply: render("imagePullSecrets", secretNames) },
  "service-account-name": { description: "Service account of sandbox pods (empty = namespace default)", fallback: "", aliases: ["OPENSHELL_K8S_SANDBOX_SERVICE_ACCOUNT"], apply: render("serviceAccountName", optionalDnsLabel) },
  "runtime-class-name": { description: "Default runtimeClassName of sandbox pods", fallback: "", aliases: ["OPENSHELL_K8S_DEFAULT_RUNTIME_CLASS_NAME"], apply: render("runtimeClassName", optionalDnsSubdomain) },
  "supervisor-image": { description: "Image that carries the openshell-sandbox supervisor", fallback: "ghcr.io/nvidia/openshell/supervisor:latest", aliases: ["OPENSHELL_SUPERVISOR_IMAGE"], apply: render("supervisorImage", image(false)) },
  "supervisor-image-pull-policy": { description: "Pull policy of the supervisor image, for its init containers and image volume (empty = Kubernetes default)", fallback: "", aliases: ["OPENSHELL_SUPERVISOR_IMAGE_PULL_POLICY"], apply: render("supervisorImagePullPolicy", pullPolicy) },
  "supervisor-binary-path": { description: "Path of the supervisor binary inside the supervisor image", fallback: "/openshell-sandbox", apply: render("supervisorBinaryPath", absolutePath) },
  "supervisor-mount-path": { description: "Directory where the supervisor appears in the agent container", fallback: "/opt/openshell/bin", apply: render("supervisorMountPath", absolutePath) },
  "supervisor-sideload": { description: "How the supervisor reaches the pod (init-container|image-volume)", fallback: "init-container", aliases: ["OPENSHELL_SUPERVISOR_SIDELOAD_METHOD"], apply: render("supervisorSideload", oneOf("init-container", "image-volume")) },
  "supervisor-topology": { description: "combined (root agent container sets up networking) | sidecar (network init container and supervisor sidecar; the agent runs non-root with no capabilities)", fallback: "combined", aliases: ["OPENSHELL_K8S_TOPOLOGY"], apply: render("supervisorTopology", oneOf("combined", "sidecar")) },
  "sidecar-proxy-uid": { description: "UID of the sidecar network proxy when it is not binary-aware", fallback: "1337", aliases: ["OPENSHELL_K8S_SIDECAR_PROXY_UID"], apply: render("sidecarProxyUid", integer(1000, MAX_ID)) },
  "sidecar-process-binary-aware-network-policy": { description: "Sidecar network supervisor runs as root to attribute connections to binaries (true|false)", fallback: "true", aliases: ["OPENSHELL_K8S_SIDECAR_PROCESS_BINARY_AWARE_NETWORK_POLICY"], boolean: true, apply: render("sidecarBinaryAwareNetworkPolicy", bool) },
  "gateway-endpoint": { description: "Gateway gRPC endpoint given to sandboxes as OPENSHELL_ENDPOINT", fallback: "", aliases: ["OPENSHELL_GRPC_ENDPOINT"], apply: render("gatewayEndpoint", endpoint) },
  "sandbox-telemetry": { description: "Value of OPENSHELL_TELEMETRY_ENABLED in sandboxes (true|false)", fallback: "true", aliases: ["OPENSHELL_TELEMETRY_ENABLED"], boolean: true, apply: render("sandboxTelemetry", bool) },
  "sandbox-ssh-socket-path": { description: "Supervisor SSH socket in the sandbox, OPENSHELL_SSH_SOCKET_PATH (empty = unset)", fallback: "/run/openshell/ssh.sock", aliases: ["OPENSHELL_SANDBOX_SSH_SOCKET_PATH"], apply: render("sshSocketPath", optionalAbsolutePath) },
  "sandbox-uid": { description: "Sandbox user id (default: the namespace's OpenShift UID range start, else 1000)", fallback: undefined, aliases: ["OPENSHELL_K8S_SANDBOX_UID"], apply: render("sandboxUid", integer(1, MAX_ID)) },
  "sandbox-gid": { description: "Sandbox group id (default: --sandbox-uid, else the namespace's supplemental-groups start, else the uid)", fallback: undefined, aliases: ["OPENSHELL_K8S_SANDBOX_GID"], apply: render("sandboxGid", integer(1, MAX_ID)) },
  "enable-user-namespaces": { description: "Run sandbox pods in user namespaces (hostUsers: false) unless a sandbox asks otherwise (true|false)", fallback: "false", aliases: ["OPENSHELL_ENABLE_USER_NAMESPACES"], boolean: true, apply: render("enableUserNamespaces", bool) },
  "client-tls-secret-name": { description: "Secret with the sandbox client certificate (ca.crt, tls.crt, tls.key) for mTLS to the gateway (empty = no TLS)", fallback: "", aliases: ["OPENSHELL_CLIENT_TLS_SECRET_NAME"], apply: render("clientTlsSecretName", optionalDnsSubdomain) },
  "sa-token-ttl-secs": { description: "Lifetime of the sandbox's gateway ServiceAccount token, clamped to [600, 86400] (0 = 3600)", fallback: "3600", aliases: ["OPENSHELL_K8S_SA_TOKEN_TTL_SECS"], apply: render("saTokenTtlSeconds", saTokenTtl) },
  "host-gateway-ip": { description: "IP sandboxes reach the host at as host.docker.internal and host.openshell.internal (empty = none)", fallback: "", aliases: ["OPENSHELL_HOST_GATEWAY_IP"], apply: render("hostGatewayIp", optionalIp) },
  "app-armor-profile": { description: "AppArmor profile of sandbox containers: RuntimeDefault|Unconfined|Localhost/<name> (empty = cluster default)", fallback: "", aliases: ["OPENSHELL_K8S_APP_ARMOR_PROFILE"], apply: render("appArmorProfile", securityProfile) },
  "seccomp-profile": { description: "Seccomp profile of sandbox pods: RuntimeDefault|Unconfined|Localhost/<path> (empty = cluster default; Unconfined for hardened nodes whose default profile blocks the supervisor)", fallback: "", apply: render("seccompProfile", securityProfile) },
  "https-proxy": { description: "Upstream HTTP proxy for sandbox egress, http://host:port (empty = none)", fallback: "", aliases: ["OPENSHELL_UPSTREAM_PROXY"], apply: proxy("url", text) },
  "no-proxy": { description: "Comma-separated hosts that bypass the upstream proxy", fallback: "", aliases: ["OPENSHELL_UPSTREAM_NO_PROXY"], apply: proxy("noProxy", text) },
  "proxy-auth-secret-name": { description: "Secret holding the upstream proxy credentials (sidecar topology only)", fallback: "", aliases: ["OPENSHELL_UPSTREAM_PROXY_AUTH_SECRET_NAME"], apply: proxy("authSecretName", optionalDnsSubdomain) },
  "proxy-auth-secret-key": { description: "Key of the credentials in that Secret", fallback: "", aliases: ["OPENSHELL_UPSTREAM_PROXY_AUTH_SECRET_KEY"], apply: proxy("authSecretKey", text) },
  "proxy-auth-allow-insecure": { description: "Acknowledge that proxy credentials travel over plain HTTP (true|false)", fallback: "false", aliases: ["OPENSHELL_UPSTREAM_PROXY_AUTH_ALLOW_INSECURE"], boolean: true, apply: proxy("allowInsecure", bool) },
  "proxy-connect-by-hostname": { description: "CONNECT to the upstream proxy by hostname rather than resolved IP (true|false)", fallback: "false", aliases: ["OPENSHELL_UPSTREAM_PROXY_CONNECT_BY_HOSTNAME"], boolean: true, apply: proxy("connectByHostname", bool) },
  "workspace-storage-size": { description: "Size of each sandbox's persistent /sandbox claim", fallback: "2Gi", aliases: ["OPENSHELL_K8S_WORKSPACE_DEFAULT_STORAGE_SIZE"], apply: render("workspaceStorageSize", quantity) },
  "workspace-storage-class": { description: "StorageClass of that claim (empty = cluster default)", fallback: "", aliases: ["OPENSHELL_K8S_WORKSPACE_STORAGE_CLASS"], apply: render("workspaceStorageClass", optionalDnsSubdomain) },
  "managed-ssh-ingress-enabled": { description: "Managed mode: a NetworkPolicy in each workspace namespace admitting gateway pods to sandbox SSH (true|false)", fallback: "false", aliases: ["OPENSHELL_MANAGED_SSH_INGRESS_ENABLED"], boolean: true, apply: sshIngress("enabled", bool) },
  "managed-sandbox-network-policy": { description: "Managed mode: a NetworkPolicy in each workspace namespace isolating its sandbox pods (in: only the gateway pods; out: DNS, the gateway and the internet outside private ranges) (true|false)", fallback: "false", boolean: true, apply: sshIngress("sandboxPolicy", bool) },
  "managed-ssh-gateway-namespace": { description: "Namespace of the gateway pods that NetworkPolicy admits", fallback: "", aliases: ["OPENSHELL_MANAGED_SSH_GATEWAY_NAMESPACE"], apply: sshIngress("gatewayNamespace", optionalDnsLabel) },
  "managed-ssh-gateway-pod-selector": { description: "Labels of those gateway pods, key=value,key=value", fallback: "", aliases: ["OPENSHELL_MANAGED_SSH_GATEWAY_POD_SELECTOR"], apply: sshIngress("gatewayPodSelector", labelMap) },
  platform: { description: "Platform adapter: auto (from API discovery) | kubernetes | openshift | kyma", fallback: "auto", apply: platform("platform", oneOf("auto", "kubernetes", "openshift", "kyma")) },
  expose: { description: "Expose each sandbox outside the cluster: none | route (OpenShift) | apirule | virtualservice (Kyma); failures are Warning events, never failed creates", fallback: "none", apply: platform("expose", oneOf("none", "route", "apirule", "virtualservice")) },
  "expose-port": { description: "Sandbox container port the exposure's Service targets", fallback: "8080", apply: platform("exposePort", port) },
  "openshift-scc": { description: "OpenShift: SCC sandbox pods are pinned to (openshift.io/required-scc); the sandbox service account must be allowed to use it", fallback: "openshell-sandbox", apply: platform("openshiftScc", dnsSubdomain) },
  "route-domain": { description: "OpenShift: Route host domain, hosts become <sandbox>.<domain> (empty = the router picks)", fallback: "", apply: platform("routeDomain", optionalDnsSubdomain) },
  "openshift-oauth-proxy": { description: "OpenShift: OAuth proxy sidecar in front of the exposed port (needs --expose=route) (true|false)", fallback: "false", boolean: true, apply: platform("openshiftOauthProxy", bool) },
  "openshift-oauth-proxy-image": { description: "OpenShift: image of the OAuth proxy sidecar", fallback: "quay.io/openshift/origin-oauth-proxy:4.16", apply: platform("openshiftOauthProxyImage", image(false)) },
  "istio-inject": { description: "Kyma: sidecar.istio.io/inject on sandbox pods (true|false)", fallback: "false", boolean: true, apply: platform("istioInject", bool) },
  "cluster-domain": { description: "Kyma: public domain of exposed sandboxes (empty = kube-system/shoot-info data.domain, else local.kyma.dev)", fallback: "", apply: platform("clusterDomain", optionalDnsSubdomain) },
  "kyma-gateway": { description: "Kyma: Istio Gateway exposures attach to, namespace/name", fallback: "kyma-system/kyma-gateway", apply: platform("kymaGateway", namespacedName) },
  "sandbox-api-version": { description: "Sandbox API version (auto|v1beta1|v1alpha1)", fallback: "auto", apply: server("sandboxApiVersion", oneOf("auto", "v1beta1", "v1alpha1")) },
  "allowed-annotation-prefixes": { description: "Pod annotation keys a request may set although a mesh, injector, CNI, runtime or Kubernetes acts on them (sidecar.istio.io/, *.kubernetes.io/…): comma-separated exact keys or prefixes ending in '/'; openshell.ai/, openshell.io/ and agents.x-k8s.io/ never", fallback: "", apply: requestPolicy("allowedAnnotationPrefixes", metadataKeyAllowList) },
  "allowed-label-prefixes": { description: "Pod label keys a request may set although something acts on or selects by them (app.kubernetes.io/, sidecar.istio.io/…): comma-separated exact keys or prefixes ending in '/'; openshell.ai/, openshell.io/ and agents.x-k8s.io/ never", fallback: "", apply: requestPolicy("allowedLabelPrefixes", metadataKeyAllowList) },
  "allowed-runtime-classes": { description: "Runtime classes a request may name besides --runtime-class-name, comma-separated (empty = only that one)", fallback: "", apply: requestPolicy("allowedRuntimeClasses", dnsSubdomainList) },
  "allowed-priority-classes": { description: "Priority classes a request may name, comma-separated (empty = none)", fallback: "", apply: requestPolicy("allowedPriorityClasses", dnsSubdomainList) },
  "allowed-toleration-keys": { description: "Taint keys a request may tolerate beyond the default (which refuses control-plane and other kubernetes.io taints, NoExecute and keyless tolerations), comma-separated; * admits every toleration", fallback: "", apply: requestPolicy("allowedTolerationKeys", labelKeyList(true)) },
  "allowed-node-selector-keys": { description: "Node label keys a request may select on although they pin a node or role (kubernetes.io/hostname, node-role.kubernetes.io/…), comma-separated", fallback: "", apply: requestPolicy("allowedNodeSelectorKeys", labelKeyList(false)) },
  "gpu-support": { description: "Accept GPU sandboxes (true|false)", fallback: "true", boolean: true, apply: render("gpuSupport", bool) },
  "gpu-capacity-check": { description: "GPU sandboxes that fit on no Ready node they may use: strict (refused, RESOURCE_EXHAUSTED) | advisory (a warning, accepted) | off (no node or pod reads)", fallback: "strict", apply: render("gpuCapacityCheck", oneOf("strict", "advisory", "off")) },
  "health-port": { description: "TCP port for /healthz, /readyz and /metrics (0 = off)", fallback: "9090", apply: server("healthPort", port) },
  "health-address": { description: "Address the health port binds to", fallback: "0.0.0.0", apply: server("healthAddress", text) },
  "log-level": { description: "trace|debug|info|warn|error|silent", fallback: "info", aliases: ["OPENSHELL_LOG_LEVEL"], apply: server("logLevel", oneOf("trace", "debug", "info", "warn", "error", "silent")) },
  "log-format": { description: "json|pretty (default: json unless stdout is a TTY)", fallback: undefined, apply: server("logFormat", oneOf("json", "pretty")) },
  "kube-timeout": { description: "Deadline of every Kubernetes API call", fallback: "30s", apply: server("kubeTimeoutMs", parseDuration) },
  "stop-timeout": { description: "How long StopSandbox waits for compute to stop", fallback: "90s", apply: server("stopTimeoutMs", parseDuration) },
} as const satisfies { [flag: string]: FlagSpec };

export type FlagName = keyof typeof FLAGS;

/** OPENSHELL_DRIVER_<FLAG_IN_CAPS> */
export function envVarFor(flag: string): string {
  return `OPENSHELL_DRIVER_${flag.toUpperCase().replaceAll("-", "_")}`;
}
