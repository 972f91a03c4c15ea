// Driver-wide settings that shape every rendered Sandbox. Built once from Config at start-up;
// rendering and validation are pure functions of (request, settings).

export type SandboxApiVersion = "v1beta1" | "v1alpha1";
export type SupervisorSideload = "init-container" | "image-volume";
export type ImagePullPolicy = "" | "Always" | "IfNotPresent" | "Never";

export interface RenderSettings {
  /** Namespace every Sandbox CR is created in (shared workspace mode). */
  namespace: string;
  /** Value of the openshell.ai/gateway-id label; scopes lookups to this gateway. */
  gatewayId: string;
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
  /** Absolute path of the supervisor binary inside supervisorImage. */
  supervisorBinaryPath: string;
  /** Directory in the agent container where the supervisor binary appears. */
  supervisorMountPath: string;
  supervisorSideload: SupervisorSideload;
  /** Gateway gRPC endpoint handed to sandboxes as OPENSHELL_ENDPOINT; empty = unset. */
  gatewayEndpoint: string;
  /** Whether GPU requests are accepted at all. */
  gpuSupport: boolean;
}
