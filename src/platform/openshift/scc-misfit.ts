// What one SCC check reports, and the shared inputs of every rule.

import type { V1Container } from "@kubernetes/client-node";
import type { SecurityContextConstraints } from "./scc";

/** One thing a pod needs that an SCC does not allow; `field` is the pod path (containers by name). */
export interface SccMisfit {
  field: string;
  message: string;
}

export interface SccRuleInput {
  scc: SecurityContextConstraints;
  /** `SCC "restricted-v2"`, for messages. */
  label: string;
  namespaceAnnotations: Record<string, string>;
}

/** A container with its pod path, e.g. `spec.initContainers[workspace-init]`. */
export interface ContainerAt {
  path: string;
  container: V1Container;
}
