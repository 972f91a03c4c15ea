// Kubernetes Events → platform events on the watch stream, including the progress hints the
// gateway's UI reads (`openshell.progress.*`, steps from openshell-core progress.rs).

import { create } from "@bufbuild/protobuf";
import type { CoreV1Event } from "@kubernetes/client-node";
import { DriverPlatformEventSchema, type DriverPlatformEvent } from "../gen/compute_driver_pb";

export interface EventIndex {
  /** Sandbox CR name → sandbox id. */
  sandboxIdByCrName: ReadonlyMap<string, string>;
  /** Pod name → sandbox id (from the controller's agents.x-k8s.io/pod-name annotation). */
  sandboxIdByPodName: ReadonlyMap<string, string>;
}

export const PROGRESS_COMPLETE_STEP = "openshell.progress.complete_step";
export const PROGRESS_COMPLETE_LABEL = "openshell.progress.complete_label";
export const PROGRESS_ACTIVE_STEP = "openshell.progress.active_step";
export const PROGRESS_ACTIVE_DETAIL = "openshell.progress.active_detail";

export const STEP_REQUESTING_SANDBOX = "requesting_sandbox";
export const STEP_PULLING_IMAGE = "pulling_image";
export const STEP_STARTING_SANDBOX = "starting_sandbox";

export function platformEventFor(
  ev: CoreV1Event,
  index: EventIndex,
): { sandboxId: string; event: DriverPlatformEvent } | undefined {
  const sandboxId = correlate(ev, index);
  if (sandboxId === undefined) return undefined;

  const involved = ev.involvedObject;
  const metadata: Record<string, string> = {
    involved_kind: involved.kind ?? "",
    involved_name: involved.name ?? "",
  };
  const namespace = involved.namespace || ev.metadata?.namespace;
  if (namespace) metadata.namespace = namespace;
  if (ev.count !== undefined) metadata.count = String(ev.count);
  Object.assign(metadata, progressFor(ev.reason ?? "", ev.message ?? ""));

  const event = create(DriverPlatformEventSchema, {
    timestampMs: BigInt(eventTimeMs(ev)),
    source: "kubernetes",
    type: ev.type ?? "",
    reason: ev.reason ?? "",
    message: ev.message ?? "",
    metadata,
  });
  return { sandboxId, event };
}

function correlate(ev: CoreV1Event, index: EventIndex): string | undefined {
  const name = ev.involvedObject.name ?? "";
  switch (ev.involvedObject.kind) {
    case "Sandbox":
      return index.sandboxIdByCrName.get(name);
    case "Pod":
      // The controller names the pod after the CR unless a warm pool handed over another pod.
      return index.sandboxIdByPodName.get(name) ?? index.sandboxIdByCrName.get(name);
    default:
      return undefined;
  }
}

/** lastTimestamp, else eventTime (events.k8s.io-style events), else firstTimestamp; 0 if none parse. */
function eventTimeMs(ev: CoreV1Event): number {
  for (const t of [ev.lastTimestamp, ev.eventTime, ev.firstTimestamp] as unknown[]) {
    const ms = t instanceof Date ? t.getTime() : typeof t === "string" ? Date.parse(t) : Number.NaN;
    if (Number.isFinite(ms)) return Math.trunc(ms);
  }
  return 0;
}

function progressFor(reason: string, message: string): Record<string, string> {
  switch (reason) {
    case "Scheduled":
      return {
        [PROGRESS_COMPLETE_STEP]: STEP_REQUESTING_SANDBOX,
        [PROGRESS_COMPLETE_LABEL]: "Sandbox allocated",
        [PROGRESS_ACTIVE_STEP]: STEP_PULLING_IMAGE,
      };
    case "Pulling": {
      const out: Record<string, string> = { [PROGRESS_ACTIVE_STEP]: STEP_PULLING_IMAGE };
      const image = /Pulling image "([^"]+)"/.exec(message)?.[1];
      if (image) out[PROGRESS_ACTIVE_DETAIL] = image;
      return out;
    }
    case "Pulled": {
      const size = /Image size: (\d+) /.exec(message)?.[1];
      return {
        [PROGRESS_COMPLETE_STEP]: STEP_PULLING_IMAGE,
        [PROGRESS_COMPLETE_LABEL]: size ? `Image pulled (${formatBytes(Number(size))})` : "Image pulled",
        [PROGRESS_ACTIVE_STEP]: STEP_STARTING_SANDBOX,
      };
    }
    default:
      return {};
  }
}

/** Kubelet reports image size in bytes; show it the way registries do (decimal units). */
export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} ${units[0]}` : `${value.toFixed(1)} ${units[unit]}`;
}
