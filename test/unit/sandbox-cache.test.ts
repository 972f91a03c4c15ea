// The cache outside shared mode, against an in-memory list+watch stand-in: sandboxes spread over
// workspace namespaces, Events watched per namespace. The real API server is exercised by
// test/e2e/workspace-modes.test.ts.
import { afterEach, describe, expect, test } from "bun:test";
import type { WatchSandboxesEvent } from "../../src/gen/compute_driver_pb";
import { SandboxCache } from "../../src/driver/sandbox-cache";
import { WatchHub } from "../../src/driver/watch-hub";
import type { KubeClient, KubeRequest, WatchEvent, WatchRequest } from "../../src/kube";
import { FakeWatchQueues } from "./fake-watch-queues";
import { makeSettings } from "./fixtures";
import { eventually as eventuallyEvery } from "../support/cluster";

/** Polls the in-process fake every 5 ms, for up to 1000 ms. */
const eventually = <T>(what: string, check: () => T | undefined) => eventuallyEvery(what, check, 1000, 5);

const SANDBOXES = "/apis/agents.x-k8s.io/v1beta1/sandboxes";
const eventsOf = (ns: string) => `/api/v1/namespaces/${ns}/events`;

/** Lists answer from `lists`; each path's watch streams what `emit` queues. */
class FakeCluster {
  readonly lists = new Map<string, object[]>();
  readonly watching = new Set<string>();
  readonly #watches = new FakeWatchQueues();

  client(): KubeClient {
    return {
      observer: undefined,
      request: async (req: KubeRequest) => ({ metadata: { resourceVersion: "1" }, items: this.lists.get(req.path) ?? [] }),
      watch: (req: WatchRequest) => this.#stream(req.path, req.signal, req.query?.sendInitialEvents === true),
    } as unknown as KubeClient;
  }

  emit(path: string, type: "ADDED" | "DELETED", object: object): void {
    this.#watches.push(path, { type, object });
  }

  /** A streaming list (sendInitialEvents) first gets the list as ADDED events and the bookmark that ends them. */
  async *#stream(path: string, signal: AbortSignal, initialEvents: boolean): AsyncGenerator<WatchEvent<object>> {
    this.watching.add(path);
    try {
      yield* this.#watches.stream(path, signal, initialEvents ? { objects: this.lists.get(path) ?? [], resourceVersion: "1" } : undefined);
    } finally {
      this.watching.delete(path);
    }
  }
}

function sandboxCr(namespace: string, name: string, id: string, created = "2026-01-01T10:00:00Z") {
  return {
    apiVersion: "agents.x-k8s.io/v1beta1",
    kind: "Sandbox",
    metadata: {
      name,
      namespace,
      uid: `uid-${id}`,
      resourceVersion: "1",
      creationTimestamp: created,
      labels: {
        "openshell.ai/managed-by": "openshell",
        "openshell.ai/gateway-id": "gw-test",
        "openshell.ai/sandbox-id": id,
        "openshell.ai/sandbox-name": name,
        "openshell.ai/sandbox-workspace": namespace,
      },
    },
    spec: { podTemplate: { spec: { containers: [] } } },
  };
}

function podEvent(namespace: string, pod: string, reason: string, at: string) {
  return {
    metadata: { name: `${pod}.${reason}`, namespace, resourceVersion: "2" },
    involvedObject: { kind: "Pod", name: pod, namespace },
    reason,
    type: "Normal",
    lastTimestamp: at,
  };
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

async function startCache(cluster: FakeCluster) {
  const hub = new WatchHub();
  const cache = new SandboxCache(cluster.client(), makeSettings({ workspaceMode: "managed" }), hub);
  const received: WatchSandboxesEvent[] = [];
  const abort = new AbortController();
  void (async () => {
    for await (const ev of hub.subscribe(() => [], abort.signal, "binary")) received.push(ev);
  })();
  cache.start();
  await cache.waitForSync();
  stops.push(async () => {
    abort.abort();
    await cache.stop();
  });
  const platformEvents = () =>
    received.flatMap((e) => (e.payload.case === "platformEvent" ? [`${e.payload.value.sandboxId} ${e.payload.value.event!.reason}`] : []));
  const deletions = () => received.flatMap((e) => (e.payload.case === "deleted" ? [e.payload.value.sandboxId] : []));
  return { cache, platformEvents, deletions };
}

describe("the cache outside shared mode", () => {
  test("two workspaces' sandboxes of the same name each get their own pod's events", async () => {
    const cluster = new FakeCluster();
    cluster.lists.set(SANDBOXES, [sandboxCr("ws-a", "box", "id-a"), sandboxCr("ws-b", "box", "id-b")]);
    const { cache, platformEvents } = await startCache(cluster);
    expect(cache.list().map((s) => `${s.id} ${s.namespace}`).sort()).toEqual(["id-a ws-a", "id-b ws-b"]);
    await eventually("both namespaces' events watched", () => (cluster.watching.has(eventsOf("ws-a")) && cluster.watching.has(eventsOf("ws-b")) ? true : undefined));

    cluster.emit(eventsOf("ws-a"), "ADDED", podEvent("ws-a", "box", "Scheduled", "2026-01-01T10:00:05Z"));
    expect(await eventually("the event", () => (platformEvents().length > 0 ? platformEvents() : undefined))).toEqual(["id-a Scheduled"]);
  });

  test("a namespace's events are watched only while it holds a sandbox", async () => {
    const cluster = new FakeCluster();
    const cr = sandboxCr("ws-a", "box", "id-a");
    cluster.lists.set(SANDBOXES, [cr]);
    await startCache(cluster);
    await eventually("ws-a's events watched", () => (cluster.watching.has(eventsOf("ws-a")) ? true : undefined));
    cluster.emit(SANDBOXES, "DELETED", cr);
    await eventually("ws-a's events no longer watched", () => (cluster.watching.has(eventsOf("ws-a")) ? undefined : true));
  });

  test("a namespace's first sandbox gets the events that happened before its events were listed, but not an earlier namesake's", async () => {
    const cluster = new FakeCluster();
    const { platformEvents } = await startCache(cluster);
    cluster.lists.set(eventsOf("ws-new"), [
      podEvent("ws-new", "box", "Killing", "2026-01-01T09:00:00Z"),
      podEvent("ws-new", "box", "Scheduled", "2026-01-01T10:00:01Z"),
    ]);
    cluster.emit(SANDBOXES, "ADDED", sandboxCr("ws-new", "box", "id-new", "2026-01-01T10:00:00Z"));
    expect(await eventually("the caught-up event", () => (platformEvents().length > 0 ? platformEvents() : undefined))).toEqual(["id-new Scheduled"]);
  });

  test("while a second CR carries a sandbox's id, deleting one reports the other; deleting both reports the deletion", async () => {
    const cluster = new FakeCluster();
    const [inA, inB] = [sandboxCr("ws-a", "box", "id-dup"), sandboxCr("ws-b", "box", "id-dup")];
    cluster.lists.set(SANDBOXES, [inA, inB]);
    const { cache, deletions } = await startCache(cluster);
    expect(cache.list().map((s) => s.namespace)).toEqual(["ws-b"]);

    cluster.emit(SANDBOXES, "DELETED", inB);
    await eventually("the sandbox reported from ws-a", () => (cache.get("id-dup")?.sandbox.namespace === "ws-a" ? true : undefined));
    expect(deletions()).toEqual([]);

    cluster.emit(SANDBOXES, "DELETED", inA);
    expect(await eventually("the deletion", () => (deletions().length > 0 ? deletions() : undefined))).toEqual(["id-dup"]);
    expect(cache.get("id-dup")).toBeUndefined();
  });

  test("events listed when the driver starts are history and are not sent", async () => {
    const cluster = new FakeCluster();
    cluster.lists.set(SANDBOXES, [sandboxCr("ws-a", "box", "id-a")]);
    cluster.lists.set(eventsOf("ws-a"), [podEvent("ws-a", "box", "Scheduled", "2026-01-01T10:00:01Z")]);
    const { platformEvents } = await startCache(cluster);
    await eventually("ws-a's events watched", () => (cluster.watching.has(eventsOf("ws-a")) ? true : undefined));
    cluster.emit(eventsOf("ws-a"), "ADDED", podEvent("ws-a", "box", "Pulling", "2026-01-01T10:00:02Z"));
    expect(await eventually("the live event", () => (platformEvents().length > 0 ? platformEvents() : undefined))).toEqual(["id-a Pulling"]);
  });
});
