// Kubernetes Warning Events the driver records on a Sandbox CR. The event stream forwards every
// Event about a sandbox's CR as a `platform_event`, so one write reaches both `kubectl describe`
// and the gateway.
import type { CoreV1Event } from "@kubernetes/client-node";
import type { KubeClient } from "../kube";
import { logger } from "../log";
import type { SandboxResource } from "../sandbox";
import { eventsPath } from "./kube-paths";

const log = logger("events");

/** `source.component` and `reportingComponent` of the Events the driver writes. */
export const EVENT_SOURCE = "openshell-driver-k8s";

export async function recordWarning(client: KubeClient, sandbox: SandboxResource, reason: string, message: string): Promise<void> {
  const { name, namespace, uid } = sandbox.metadata;
  if (!name || !namespace) return;
  const now = new Date().toISOString();
  const event = {
    apiVersion: "v1",
    kind: "Event",
    metadata: { generateName: `${name}.`, namespace },
    involvedObject: { apiVersion: sandbox.apiVersion, kind: sandbox.kind, name, namespace, ...(uid ? { uid } : {}) },
    type: "Warning",
    reason,
    message,
    source: { component: EVENT_SOURCE },
    reportingComponent: EVENT_SOURCE,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  } as unknown as CoreV1Event;
  try {
    await client.request({ verb: "create", path: eventsPath(namespace), body: event, resource: "events", namespace });
  } catch (err) {
    // The log line is then the only record; never let a failed report fail what it reports on.
    log.warn("cannot record a Warning event", { namespace, name, reason, error: (err as Error).message });
  }
}
