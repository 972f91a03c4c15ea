// Sandbox CR (+ its pod) → the DriverSandbox snapshot the gateway stores. Conditions are passed
// through as written (the gateway derives the public phase from them: Ready, Suspended, reasons),
// except the messages that only restate their condition's type, status and reason (see below).

import { create } from "@bufbuild/protobuf";
import {
  DriverConditionSchema,
  DriverSandboxSchema,
  DriverSandboxStatusSchema,
  type DriverSandbox,
  type DriverSandboxStatus,
} from "../gen/compute_driver_pb";
import {
  ANNOTATION_POD_NAME,
  ANNOTATION_SANDBOX_ID,
  LABEL_MANAGED_BY,
  LABEL_SANDBOX_ID,
  LABEL_SANDBOX_NAME,
  LABEL_SANDBOX_WORKSPACE,
  MANAGED_BY_VALUE,
} from "./labels";
import type { SandboxCondition, SandboxMetadata } from "./types";

interface Labelled {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

/** What observation reads of a Sandbox CR; a SandboxResource is one, and so is the cache's slim copy. */
export interface ObservableSandbox {
  metadata: Pick<SandboxMetadata, "name" | "namespace" | "labels" | "annotations" | "deletionTimestamp">;
  status?: { conditions?: SandboxCondition[] };
}

/** What observation reads of a pod: its name (and, for sandboxIdOf, its identity keys). */
export interface ObservablePod {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}

/** The only label keys observation and sandboxIdOf read; a cache may drop every other label. */
export const OBSERVED_LABELS = [LABEL_MANAGED_BY, LABEL_SANDBOX_ID, LABEL_SANDBOX_NAME, LABEL_SANDBOX_WORKSPACE] as const;

/** The only annotation keys they read (identity keys are read as annotations first, see `identity`). */
export const OBSERVED_ANNOTATIONS = [ANNOTATION_SANDBOX_ID, ANNOTATION_POD_NAME, LABEL_SANDBOX_ID, LABEL_SANDBOX_NAME, LABEL_SANDBOX_WORKSPACE] as const;

/**
 * The value of an identity key: annotation first, then label. Upstream's Rust driver writes the
 * openshell.ai/* keys as annotations too, so CRs it created read back the same way.
 */
function identity(obj: Labelled, key: string): string | undefined {
  return obj.metadata?.annotations?.[key] || obj.metadata?.labels?.[key] || undefined;
}

/** The OpenShell sandbox id of a CR or pod, or undefined if it carries none. */
export function sandboxIdOf(obj: Labelled): string | undefined {
  return obj.metadata?.annotations?.[ANNOTATION_SANDBOX_ID] || identity(obj, LABEL_SANDBOX_ID);
}

export function observeSandbox(cr: ObservableSandbox, pod: ObservablePod | undefined): DriverSandbox | undefined {
  if (cr.metadata.labels?.[LABEL_MANAGED_BY] !== MANAGED_BY_VALUE) return undefined;
  const id = sandboxIdOf(cr);
  const name = identity(cr, LABEL_SANDBOX_NAME);
  const workspace = identity(cr, LABEL_SANDBOX_WORKSPACE);
  if (!id || !name || !workspace) return undefined;

  const snapshot = create(DriverSandboxSchema, {
    id,
    name,
    namespace: cr.metadata.namespace ?? "",
    workspace,
  });
  const status = observeStatus(cr, pod);
  if (status) snapshot.status = status;
  return snapshot;
}

/**
 * The agent-sandbox controller's fixed messages for a healthy sandbox (controllers/sandbox_controller.go),
 * which say nothing their type, status and reason do not. Every Ready sandbox carries both, in every
 * List, Get and watch event: ~56 of its ~300 bytes. The gateway reads a List with a 4 MiB limit and
 * the contract has no paging, so these bytes decide how many sandboxes one gateway can reconcile.
 * Only these exact texts are left out; any other message, or these under another reason, passes as written.
 */
const RESTATED_MESSAGES = new Map<string, readonly string[]>([
  ["Ready/True/DependenciesReady", ["Pod is Ready; Service Exists", "Pod is Ready"]],
  ["Suspended/False/NotSuspended", ["Sandbox is not suspended"]],
]);

function observeStatus(cr: ObservableSandbox, pod: ObservablePod | undefined): DriverSandboxStatus | undefined {
  // No status yet means "nothing observed", except that a deletion is always worth reporting.
  if (!cr.status && !cr.metadata.deletionTimestamp) return undefined;
  return create(DriverSandboxStatusSchema, {
    sandboxName: cr.metadata.name ?? "",
    instanceId: pod?.metadata?.name ?? cr.metadata.annotations?.[ANNOTATION_POD_NAME] ?? "",
    conditions: (cr.status?.conditions ?? []).map((c) =>
      create(DriverConditionSchema, {
        type: c.type,
        status: c.status,
        reason: c.reason ?? "",
        message: RESTATED_MESSAGES.get(`${c.type}/${c.status}/${c.reason ?? ""}`)?.includes(c.message ?? "") ? "" : (c.message ?? ""),
        lastTransitionTime: formatTime(c.lastTransitionTime),
      }),
    ),
    deleting: Boolean(cr.metadata.deletionTimestamp),
  });
}

/** Kubernetes timestamps are RFC 3339 with second precision; a Date (typed client) is printed that way. */
export function formatTime(time: string | Date | undefined): string {
  if (time === undefined) return "";
  if (typeof time === "string") return time;
  return Number.isNaN(time.getTime()) ? "" : time.toISOString().replace(/\.\d{3}Z$/, "Z");
}
