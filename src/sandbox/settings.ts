// Driver-wide settings that shape every rendered Sandbox. Built once from Config at start-up;
// rendering and validation are pure functions of (request, settings).

export type SandboxApiVersion = "v1beta1" | "v1alpha1";
export type SupervisorSideload = "init-container" | "image-volume";
export type ImagePullPolicy = "" | "Always" | "IfNotPresent" | "Never";
/**
 * Where a workspace's sandboxes live: `shared` puts every workspace in the driver's namespace,
 * `managed` gives each workspace a namespace the driver creates and deletes, `operator` uses a
 * namespace named after the workspace that someone else created.
 */
export type WorkspaceMode = "shared" | "managed" | "operator";
/**
 * `combined`: one root agent container runs the supervisor, which sets up networking itself.
 * `sidecar`: network set-up moves to an init container and a supervisor sidecar, so the agent
 * container runs non-root with every capability dropped.
 */
export type SupervisorTopology = "combined" | "sidecar";

export type GpuCapacityCheck = "strict" | "advisory" | "off";

/** An AppArmor or seccomp profile (Kubernetes `appArmorProfile`, `seccompProfile`). */
export type SecurityProfile =
  | { type: "RuntimeDefault" }
  | { type: "Unconfined" }
  | { type: "Localhost"; localhostProfile: string };

/** A corporate HTTP proxy the supervisor sends sandbox egress through. */
export interface UpstreamProxy {
  /** `http://host:port`; empty = no upstream proxy (then every other field is unset/false). */
  url: string;
  /** Comma-separated hosts that bypass the proxy; empty = none. */
  noProxy: string;
  /** Secret (in the sandbox namespace) holding the proxy credentials; empty = none. */
  authSecretName: string;
  authSecretKey: string;
  /** The proxy is plain HTTP, so credentials travel unencrypted: must be said explicitly. */
  allowInsecure: boolean;
  connectByHostname: boolean;
}

export interface ManagedSshIngress {
  enabled: boolean;
  /**
   * A NetworkPolicy isolating every sandbox pod of each workspace namespace (in: only the gateway
   * pods; out: DNS, the gateway pods and the internet outside private ranges), as the chart gives
   * the sandboxes of its own namespace.
   */
  sandboxPolicy: boolean;
  /** Namespace of the gateway pods allowed to reach sandbox SSH (port 2222). */
  gatewayNamespace: string;
  gatewayPodSelector: Record<string, string>;
}

/**
 * What a sandbox request may set beyond the safe defaults of src/sandbox/policy. Each list only
 * widens: an empty list leaves the default. Entries are exact keys/names; a key entry ending in
 * `/` opens every key under that prefix.
 */
export interface RequestPolicy {
  /** Pod annotation keys a request may set although a mesh, injector, CNI or runtime reads them. */
  allowedAnnotationPrefixes: string[];
  /** Pod label keys a request may set although something else selects or acts on them. */
  allowedLabelPrefixes: string[];
  /** Runtime classes a request may name besides --runtime-class-name. */
  allowedRuntimeClasses: string[];
  /** Priority classes a request may name (none by default). */
  allowedPriorityClasses: string[];
  /**
   * Taint keys a request may tolerate although the default refuses them (control-plane, node-state
   * and other kubernetes.io taints, NoExecute); `*` also admits a toleration without a key.
   */
  allowedTolerationKeys: string[];
  /** Node label keys a request may select on although they pin a node or role (kubernetes.io/hostname, node-role.kubernetes.io/*). */
  allowedNodeSelectorKeys: string[];
}

export interface RenderSettings {
  /** Namespace every Sandbox CR is created in (shared mode); the source of copied Secrets otherwise. */
  namespace: string;
  /** Value of the openshell.ai/gateway-id label; scopes lookups to this gateway. */
  gatewayId: string;
  workspaceMode: WorkspaceMode;
  /** Sandbox API version served by the cluster, detected at start (never "auto" here). */
  apiVersion: SandboxApiVersion;
  /** Image used when the request leaves template.image empty. */
  defaultImage: string;
  imagePullPolicy: ImagePullPolicy;
  imagePullSecrets: string[];
  /** Pod service account; empty = namespace default. */
  serviceAccountName: string;
  /** Lowest-precedence runtimeClassName; empty = none. */
  runtimeClassName: string;
  /** Image that carries the openshell-sandbox supervisor binary. */
  supervisorImage: string;
  /** Pull policy of the supervisor image (init containers and the image volume); empty = default. */
  supervisorImagePullPolicy: ImagePullPolicy;
  /** Absolute path of the supervisor binary inside supervisorImage. */
  supervisorBinaryPath: string;
  /** Directory in the agent container where the supervisor binary appears. */
  supervisorMountPath: string;
  supervisorSideload: SupervisorSideload;
  supervisorTopology: SupervisorTopology;
  /** UID of the sidecar network proxy (sidecar topology, when not binary-aware). */
  sidecarProxyUid: number;
  /** Sidecar network supervisor runs as root to attribute connections to binaries. */
  sidecarBinaryAwareNetworkPolicy: boolean;
  /** Gateway gRPC endpoint handed to sandboxes as OPENSHELL_ENDPOINT; empty = unset. */
  gatewayEndpoint: string;
  /** Value of OPENSHELL_TELEMETRY_ENABLED in every sandbox. */
  sandboxTelemetry: boolean;
  /** Path of the supervisor's SSH socket in the sandbox (OPENSHELL_SSH_SOCKET_PATH); empty = unset. */
  sshSocketPath: string;
  /** Fixed sandbox user/group; undefined = from the namespace's OpenShift ranges, else 1000. */
  sandboxUid: number | undefined;
  sandboxGid: number | undefined;
  /** Request user-namespaced pods (`hostUsers: false`) unless a sandbox says otherwise. */
  enableUserNamespaces: boolean;
  /** Secret with the sandbox's client certificate for mTLS to the gateway; empty = no TLS. */
  clientTlsSecretName: string;
  /** Lifetime of the projected gateway ServiceAccount token, already clamped. */
  saTokenTtlSeconds: number;
  /** IP the sandbox reaches the host as host.docker.internal / host.openshell.internal; empty = none. */
  hostGatewayIp: string;
  /** The AppArmor profile of the agent and helper containers; undefined = cluster default. */
  appArmorProfile: SecurityProfile | undefined;
  /** The pod's seccomp profile; undefined = cluster default. */
  seccompProfile: SecurityProfile | undefined;
  upstreamProxy: UpstreamProxy;
  /** Size of each sandbox's persistent /sandbox claim. */
  workspaceStorageSize: string;
  /** StorageClass of that claim; empty = the cluster default. */
  workspaceStorageClass: string;
  managedSshIngress: ManagedSshIngress;
  /** Whether GPU requests are accepted at all. */
  gpuSupport: boolean;
  /** What a request may set beyond the safe defaults (src/sandbox/policy). */
  requestPolicy: RequestPolicy;
  /** What a GPU sandbox that does not fit on any node it may use gets: refused, a warning, or no check. */
  gpuCapacityCheck: GpuCapacityCheck;
}

/** The sandbox user and group, resolved per target namespace at create time. */
export interface SandboxIdentity {
  uid: number;
  gid: number;
}
