// What the cache keeps of each Sandbox CR and pod: only the fields observation (observe.ts), the
// event index and the cache's own bookkeeping read. A rendered CR carries its whole pod template
// and a pod its spec, managed fields and container statuses, several KiB each that nothing here
// reads; at 10,000 sandboxes that is most of the driver's memory. The informer applies these as
// objects arrive, so the full objects are garbage as soon as they are parsed.
import type { V1Pod } from "@kubernetes/client-node";
import { ANNOTATION_SANDBOX_ID, LABEL_SANDBOX_ID } from "../sandbox/labels";
import { OBSERVED_ANNOTATIONS, OBSERVED_LABELS, type ObservablePod, type ObservableSandbox } from "../sandbox/observe";
import type { SandboxCondition, SandboxMetadata, SandboxResource } from "../sandbox/types";

/** The informers key and diff by name, namespace, uid and resourceVersion; they are always kept. */
interface KeptMetadata {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface CachedSandbox extends ObservableSandbox {
  metadata: KeptMetadata & Pick<SandboxMetadata, "generation" | "creationTimestamp" | "deletionTimestamp">;
  status?: { conditions?: SandboxCondition[] };
}

export interface CachedPod extends ObservablePod {
  metadata: KeptMetadata;
}

/**
 * Of a pod, observation reads only the name; the cache reads its sandbox id, where sandboxIdOf
 * looks for it. Its other identity keys are the CR's to give, so a pod keeps no copy of them.
 */
const POD_LABELS = [LABEL_SANDBOX_ID] as const;
const POD_ANNOTATIONS = [ANNOTATION_SANDBOX_ID, LABEL_SANDBOX_ID] as const;

export function slimSandbox(cr: SandboxResource): CachedSandbox {
  const m = cr.metadata ?? {};
  const slim: CachedSandbox = {
    metadata: {
      ...keptMetadata(m, OBSERVED_LABELS, OBSERVED_ANNOTATIONS),
      ...(m.generation === undefined ? {} : { generation: m.generation }),
      ...(m.creationTimestamp === undefined ? {} : { creationTimestamp: m.creationTimestamp }),
      ...(m.deletionTimestamp === undefined ? {} : { deletionTimestamp: m.deletionTimestamp }),
    },
  };
  if (cr.status) {
    slim.status = cr.status.conditions
      ? {
          conditions: cr.status.conditions.map((c) => ({
            type: c.type,
            status: c.status,
            ...(c.reason === undefined ? {} : { reason: c.reason }),
            ...(c.message === undefined ? {} : { message: c.message }),
            ...(c.lastTransitionTime === undefined ? {} : { lastTransitionTime: c.lastTransitionTime }),
          })),
        }
      : {};
  }
  return slim;
}

export function slimPod(pod: V1Pod): CachedPod {
  return { metadata: keptMetadata(pod.metadata ?? {}, POD_LABELS, POD_ANNOTATIONS) };
}

function keptMetadata(m: KeptMetadata, labelKeys: readonly string[], annotationKeys: readonly string[]): KeptMetadata {
  const labels = pick(m.labels, labelKeys);
  const annotations = pick(m.annotations, annotationKeys);
  return {
    ...(m.name === undefined ? {} : { name: m.name }),
    ...(m.namespace === undefined ? {} : { namespace: m.namespace }),
    ...(m.uid === undefined ? {} : { uid: m.uid }),
    ...(m.resourceVersion === undefined ? {} : { resourceVersion: m.resourceVersion }),
    ...(labels ? { labels } : {}),
    ...(annotations ? { annotations } : {}),
  };
}

function pick(from: Record<string, string> | undefined, keys: readonly string[]): Record<string, string> | undefined {
  if (!from) return undefined;
  let out: Record<string, string> | undefined;
  for (const key of keys) {
    const value = from[key];
    if (value !== undefined) (out ??= {})[key] = value;
  }
  return out;
}
