// A synthetic kube-apiserver for benchmarks only: it serves a fixed set of Sandbox CRs and their
// pods, and holds watches open without events. It lets the benchmark load thousands of sandboxes
// without creating them in a real cluster. The objects are shaped like the real cluster's, since
// what the driver parses (and may keep) is what its memory is: each CR is the driver's own
// rendering with a controller's status, both carry the managed fields an API server adds, and
// pods are sent as PartialObjectMetadata when the driver asks for metadata only.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { resolveConfig } from "../src/config";
import { DriverSandboxSchema } from "../src/gen/compute_driver_pb";
import { renderSandbox, validateSandbox, type RenderSettings } from "../src/sandbox";

const TIME = "2026-11-22T10:00:00Z";

function managedField(manager: string, operation: "Apply" | "Update", fields: object, subresource?: string) {
  return { manager, operation, apiVersion: "v1", time: TIME, fieldsType: "FieldsV1", fieldsV1: fields, ...(subresource ? { subresource } : {}) };
}

/** Field sets as the API server records them: one `f:` key per field a manager owns. */
function fieldSet(paths: string[]): object {
  const root: Record<string, object> = {};
  for (const path of paths) {
    let at: Record<string, object> = root;
    for (const part of path.split(".")) at = (at[`f:${part}`] ??= {}) as Record<string, object>;
  }
  return root;
}

function sandboxCr(i: number, namespace: string, settings: RenderSettings) {
  const id = `bench-${i.toString().padStart(6, "0")}`;
  const request = create(DriverSandboxSchema, {
    id,
    name: `sandbox-${i}`,
    workspace: "ws",
    spec: { logLevel: "info", environment: { A: "1", B: "2", C: "3" }, template: { image: "busybox:1.36" } },
  });
  const cr = renderSandbox(validateSandbox(request, settings), settings);
  const conditions = [
    { type: "Ready", status: "True", reason: "DependenciesReady", message: "Pod is Ready; Service Exists", lastTransitionTime: TIME, observedGeneration: 1 },
    { type: "Suspended", status: "False", reason: "NotSuspended", message: "Sandbox is not suspended", lastTransitionTime: TIME, observedGeneration: 1 },
    { type: "PodScheduled", status: "True", reason: "PodScheduled", message: "", lastTransitionTime: TIME, observedGeneration: 1 },
  ];
  const metadata = {
    ...cr.metadata,
    namespace,
    uid: `0b6c1f52-${i.toString(16).padStart(4, "0")}-4c1e-9d7a-5f0e2b7c${i.toString(16).padStart(4, "0")}`,
    resourceVersion: String(1000 + i),
    generation: 1,
    creationTimestamp: TIME,
    managedFields: [
      managedField("openshell-driver-k8s", "Update", fieldSet([...Object.keys(cr.metadata.labels ?? {}).map((k) => `metadata.labels.${k}`), "spec.podTemplate"])),
      managedField("agent-sandbox-controller", "Update", fieldSet(["status.conditions", "status.podIPs", "status.nodeName", "status.replicas", "status.selector"]), "status"),
    ],
  };
  return {
    ...cr,
    metadata,
    status: { conditions, podIPs: [`10.0.${Math.floor(i / 250)}.${i % 250}`], nodeName: "node-0", replicas: 1, selector: `agents.x-k8s.io/sandbox-name-hash=${i.toString(16)}` },
  };
}

/** A pod's metadata as the API server sends it: owner, controller labels and managed fields. */
function podMetadata(i: number, namespace: string, gatewayId: string) {
  const id = `bench-${i.toString().padStart(6, "0")}`;
  const labels = {
    "openshell.ai/sandbox-id": id,
    "openshell.ai/sandbox-name": `sandbox-${i}`,
    "openshell.ai/sandbox-workspace": "ws",
    "openshell.ai/managed-by": "openshell",
    "openshell.ai/gateway-id": gatewayId,
    "agents.x-k8s.io/sandbox-name-hash": i.toString(16).padStart(8, "0"),
  };
  return {
    name: `ws--sandbox-${i}`,
    namespace,
    uid: `7d2e4a90-${i.toString(16).padStart(4, "0")}-4b3f-8e21-c9a05d1f${i.toString(16).padStart(4, "0")}`,
    resourceVersion: String(5000 + i),
    creationTimestamp: TIME,
    labels,
    annotations: { "openshell.io/sandbox-id": id, "kubectl.kubernetes.io/default-container": "agent" },
    ownerReferences: [{ apiVersion: "agents.x-k8s.io/v1beta1", kind: "Sandbox", name: `ws--sandbox-${i}`, uid: `uid-${i}`, controller: true, blockOwnerDeletion: true }],
    managedFields: [
      managedField("agent-sandbox-controller", "Update", fieldSet([...Object.keys(labels).map((k) => `metadata.labels.${k}`), "metadata.ownerReferences", "spec.containers", "spec.volumes", "spec.securityContext", "spec.restartPolicy", "spec.dnsPolicy"])),
      managedField("kubelet", "Update", fieldSet(["status.conditions", "status.containerStatuses", "status.hostIP", "status.hostIPs", "status.phase", "status.podIP", "status.podIPs", "status.startTime"]), "status"),
    ],
  };
}

function pod(i: number, namespace: string, gatewayId: string) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: podMetadata(i, namespace, gatewayId),
    spec: { nodeName: "node-0", restartPolicy: "Always", containers: [{ name: "agent", image: "busybox:1.36", env: [{ name: "A", value: "1" }], resources: {} }] },
    status: {
      phase: "Running",
      podIP: `10.0.${Math.floor(i / 250)}.${i % 250}`,
      hostIP: "10.1.0.1",
      startTime: TIME,
      conditions: ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"].map((type) => ({ type, status: "True", lastTransitionTime: TIME })),
      containerStatuses: [{ name: "agent", ready: true, restartCount: 0, started: true, image: "busybox:1.36", imageID: "docker.io/library/busybox@sha256:0000", containerID: `containerd://${i}`, state: { running: { startedAt: TIME } } }],
    },
  };
}

function partialMetadata(i: number, namespace: string, gatewayId: string) {
  return { apiVersion: "meta.k8s.io/v1", kind: "PartialObjectMetadata", metadata: podMetadata(i, namespace, gatewayId) };
}

export class SyntheticApi {
  #server: Server | undefined;
  port = 0;

  constructor(
    readonly count: number,
    readonly namespace = "openshell-system",
    readonly gatewayId = "bench",
    /** Serve streaming lists (sendInitialEvents), as Kubernetes 1.34+ does, instead of refusing them. */
    readonly streamingLists = false,
  ) {}

  async start(): Promise<void> {
    const settings: RenderSettings = {
      ...resolveConfig({ "gateway-id": this.gatewayId, "default-image": "busybox:1.36", "gateway-endpoint": "http://gateway:8080" }, {}, false).render,
      apiVersion: "v1beta1",
    };
    const sandboxItems = Array.from({ length: this.count }, (_, i) => sandboxCr(i, this.namespace, settings));
    const sandboxes = JSON.stringify({ kind: "SandboxList", apiVersion: "agents.x-k8s.io/v1beta1", metadata: { resourceVersion: "100000" }, items: sandboxItems });
    const pods = JSON.stringify({
      kind: "PodList",
      apiVersion: "v1",
      metadata: { resourceVersion: "100000" },
      items: Array.from({ length: this.count }, (_, i) => pod(i, this.namespace, this.gatewayId)),
    });
    const podMetadataItems = Array.from({ length: this.count }, (_, i) => partialMetadata(i, this.namespace, this.gatewayId));
    const podMetadataList = JSON.stringify({ kind: "PartialObjectMetadataList", apiVersion: "meta.k8s.io/v1", metadata: { resourceVersion: "100000" }, items: podMetadataItems });
    const initialEvents = (items: object[]) =>
      items.map((object) => `${JSON.stringify({ type: "ADDED", object })}\n`).join("") +
      `${JSON.stringify({ type: "BOOKMARK", object: { metadata: { resourceVersion: "100000", annotations: { "k8s.io/initial-events-end": "true" } } } })}\n`;
    const events = JSON.stringify({ kind: "EventList", apiVersion: "v1", metadata: { resourceVersion: "100000" }, items: [] });
    this.#server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      if (this.streamingLists && url.searchParams.get("sendInitialEvents") === "true") {
        res.writeHead(200, { "content-type": "application/json" });
        if (url.pathname.endsWith("/sandboxes")) res.write(initialEvents(sandboxItems));
        else if (url.pathname.endsWith("/pods")) res.write(initialEvents(podMetadataItems));
        else res.write(initialEvents([]));
        return; // then held open, as a watch
      }
      // A server without streaming lists: the informers take one LIST each, as before.
      if (url.searchParams.get("sendInitialEvents") === "true") {
        res.writeHead(422, { "content-type": "application/json" });
        return res.end(JSON.stringify({ kind: "Status", code: 422, reason: "Invalid", message: "sendInitialEvents is not supported" }));
      }
      if (url.searchParams.get("watch") === "1" || url.searchParams.get("watch") === "true") {
        res.writeHead(200, { "content-type": "application/json" });
        res.flushHeaders();
        return; // held open; the driver's watchdog and server timeouts are not exercised here
      }
      res.setHeader("content-type", "application/json");
      if (url.pathname === "/version") return res.end(JSON.stringify({ gitVersion: "v1.36.4-synthetic" }));
      // Platform detection's discovery: plain Kubernetes with the Sandbox API.
      if (url.pathname === "/apis") {
        return res.end(JSON.stringify({ kind: "APIGroupList", apiVersion: "v1", groups: [{ name: "agents.x-k8s.io", versions: [{ groupVersion: "agents.x-k8s.io/v1beta1", version: "v1beta1" }] }] }));
      }
      if (url.pathname.endsWith("/sandboxes")) return res.end(url.searchParams.get("limit") === "1" ? JSON.stringify({ items: [] }) : sandboxes);
      if (url.pathname.endsWith("/pods")) {
        const metadataOnly = req.headers.accept?.includes("as=PartialObjectMetadataList") ?? false;
        if (metadataOnly) res.setHeader("content-type", "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1");
        return res.end(metadataOnly ? podMetadataList : pods);
      }
      if (url.pathname.endsWith("/events")) return res.end(events);
      res.writeHead(404).end(JSON.stringify({ kind: "Status", code: 404, reason: "NotFound", message: "not found" }));
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.#server.address() as AddressInfo).port;
  }

  kubeconfig(): string {
    return `apiVersion: v1
kind: Config
clusters: [{name: synthetic, cluster: {server: "http://127.0.0.1:${this.port}"}}]
users: [{name: bench, user: {token: "bench"}}]
contexts: [{name: bench, context: {cluster: synthetic, user: bench}}]
current-context: bench
`;
  }

  close(): void {
    this.#server?.closeAllConnections();
    this.#server?.close();
  }
}
