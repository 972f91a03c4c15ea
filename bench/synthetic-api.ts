// A synthetic kube-apiserver for benchmarks only: it serves a fixed set of Sandbox CRs (with
// realistic status) and their pods, and holds watches open without events. It lets the
// benchmark load thousands of sandboxes without creating them in a real cluster.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

function sandboxCr(i: number, namespace: string, gatewayId: string) {
  const id = `bench-${i.toString().padStart(6, "0")}`;
  const name = `ws--sandbox-${i}`;
  return {
    apiVersion: "agents.x-k8s.io/v1beta1",
    kind: "Sandbox",
    metadata: {
      name,
      namespace,
      uid: `uid-${i}`,
      resourceVersion: String(1000 + i),
      labels: {
        "openshell.ai/sandbox-id": id,
        "openshell.ai/sandbox-name": `sandbox-${i}`,
        "openshell.ai/sandbox-workspace": "ws",
        "openshell.ai/managed-by": "openshell",
        "openshell.ai/gateway-id": gatewayId,
      },
      annotations: { "openshell.io/sandbox-id": id, "agents.x-k8s.io/pod-name": name },
    },
    spec: { podTemplate: { spec: { containers: [{ name: "agent", image: "busybox" }] } } },
    status: {
      conditions: [
        { type: "Ready", status: "True", reason: "DependenciesReady", message: "Pod is Ready; Service Exists", lastTransitionTime: "2026-11-22T10:00:00Z", observedGeneration: 1 },
        { type: "Suspended", status: "False", reason: "NotSuspended", message: "Sandbox is not suspended", lastTransitionTime: "2026-11-22T10:00:00Z", observedGeneration: 1 },
        { type: "PodScheduled", status: "True", reason: "PodScheduled", message: "", lastTransitionTime: "2026-11-22T10:00:00Z", observedGeneration: 1 },
      ],
      podIPs: [`10.0.${Math.floor(i / 250)}.${i % 250}`],
      nodeName: "node-0",
    },
  };
}

function pod(i: number, namespace: string, gatewayId: string) {
  const id = `bench-${i.toString().padStart(6, "0")}`;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: `ws--sandbox-${i}`,
      namespace,
      uid: `pod-uid-${i}`,
      resourceVersion: String(5000 + i),
      labels: { "openshell.ai/sandbox-id": id, "openshell.ai/managed-by": "openshell", "openshell.ai/gateway-id": gatewayId },
    },
    spec: { nodeName: "node-0", containers: [{ name: "agent", image: "busybox" }] },
    status: { phase: "Running", podIP: `10.0.${Math.floor(i / 250)}.${i % 250}` },
  };
}

export class SyntheticApi {
  #server: Server | undefined;
  port = 0;

  constructor(
    readonly count: number,
    readonly namespace = "openshell-system",
    readonly gatewayId = "bench",
  ) {}

  async start(): Promise<void> {
    const sandboxes = JSON.stringify({
      kind: "SandboxList",
      apiVersion: "agents.x-k8s.io/v1beta1",
      metadata: { resourceVersion: "100000" },
      items: Array.from({ length: this.count }, (_, i) => sandboxCr(i, this.namespace, this.gatewayId)),
    });
    const pods = JSON.stringify({
      kind: "PodList",
      apiVersion: "v1",
      metadata: { resourceVersion: "100000" },
      items: Array.from({ length: this.count }, (_, i) => pod(i, this.namespace, this.gatewayId)),
    });
    const events = JSON.stringify({ kind: "EventList", apiVersion: "v1", metadata: { resourceVersion: "100000" }, items: [] });
    this.#server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
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
      if (url.pathname.endsWith("/pods")) return res.end(pods);
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
