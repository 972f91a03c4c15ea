// The Sandbox custom resource (agents.x-k8s.io), as much of it as the driver writes and reads.
// Both served versions share the spec shape except for the lifecycle field.

import type { V1PodSpec } from "@kubernetes/client-node";

export type SandboxApiGroupVersion = "agents.x-k8s.io/v1beta1" | "agents.x-k8s.io/v1alpha1";

export const SANDBOX_GROUP = "agents.x-k8s.io";
export const SANDBOX_KIND = "Sandbox";
export const SANDBOX_PLURAL = "sandboxes";

export interface SandboxMetadata {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string | Date;
  deletionTimestamp?: string | Date;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface SandboxCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string | Date;
  observedGeneration?: number;
}

export interface SandboxStatus {
  conditions?: SandboxCondition[];
  podIPs?: string[];
  nodeName?: string;
  selector?: string;
  service?: string;
  serviceFQDN?: string;
  replicas?: number;
}

export interface SandboxSpec {
  podTemplate: {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    spec: V1PodSpec;
  };
  /** v1beta1 only; the API defaults it to Running. */
  operatingMode?: "Running" | "Suspended";
  /** v1alpha1 only (0 or 1); the API defaults it to 1. */
  replicas?: number;
  volumeClaimTemplates?: unknown[];
  /** Path of the agent's control socket inside the pod (upstream's `agent_socket_path`). */
  agentSocket?: string;
}

export interface SandboxResource {
  apiVersion: SandboxApiGroupVersion;
  kind: "Sandbox";
  metadata: SandboxMetadata;
  spec: SandboxSpec;
  status?: SandboxStatus;
}
