// Get, List and a new watch's state are written from each sandbox's cached encoding: the bytes
// must be exactly those of the reply built the normal way, JSON callers (whose codec drops
// unknown fields) must get the full messages, and a sandbox is encoded again only when its CR or
// pod changes. Reads are served once the Sandbox CRs are listed, before pods; before that, a List
// asks the API server. The driver's informers run against an in-memory list+watch stand-in.
import { afterEach, describe, expect, test } from "bun:test";
import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import {
  ComputeDriver,
  GetSandboxResponseSchema,
  ListSandboxesResponseSchema,
  WatchSandboxesEventSchema,
  type WatchSandboxesEvent,
} from "../../src/gen/compute_driver_pb";
import { computeDriverService } from "../../src/contract/compute-driver-service";
import { SandboxDriver } from "../../src/driver/driver";
import type { KubeClient, KubeRequest, WatchEvent, WatchRequest } from "../../src/kube";
import { FakeWatchQueues } from "./fake-watch-queues";
import { makeSettings, keptPodFeatures } from "./fixtures";
import { plainKubernetes } from "./platform-fixtures";
import { eventually as eventuallyEvery } from "../support/cluster";

/** Polls the in-process fake every 5 ms, for up to 2000 ms. */
const eventually = <T>(what: string, check: () => T | undefined) => eventuallyEvery(what, check, 2000, 5);

const SANDBOXES = "/apis/agents.x-k8s.io/v1beta1/sandboxes";
const PODS = "/api/v1/pods";

type Obj = { metadata: { name: string; namespace: string; resourceVersion?: string; [k: string]: unknown }; [k: string]: unknown };

/**
 * Collections by path: lists (plain or streamed with sendInitialEvents) answer what `put` stored;
 * watches stream later `put`s and `remove`s. `hold(path)` keeps the first read of a collection
 * (the informer's, which starts first) unanswered until `release(path)`.
 */
class FakeCluster {
  readonly #objects = new Map<string, Map<string, Obj>>();
  readonly #watches = new FakeWatchQueues();
  readonly #held = new Map<string, { promise: Promise<void>; release: () => void }>();
  readonly #read = new Set<string>();
  /** Label selectors of the plain LISTs of sandboxes, in order. */
  readonly sandboxLists: string[] = [];
  #rv = 10;

  client(): KubeClient {
    const list = async (req: Omit<KubeRequest, "verb">) => {
      await this.#gate(req.path);
      if (req.path === SANDBOXES) this.sandboxLists.push(String(req.query?.labelSelector ?? ""));
      return [...(this.#objects.get(req.path)?.values() ?? [])];
    };
    return {
      observer: undefined,
      request: async (req: KubeRequest) => ({ metadata: { resourceVersion: String(this.#rv) }, items: await list(req) }),
      listAll: (req: KubeRequest) => list(req),
      watch: (req: WatchRequest) => this.#stream(req.path, req.signal, req.query?.sendInitialEvents === true),
    } as unknown as KubeClient;
  }

  hold(path: string): void {
    let release!: () => void;
    const promise = new Promise<void>((resolve) => (release = resolve));
    this.#held.set(path, { promise, release });
  }

  release(path: string): void {
    this.#held.get(path)?.release();
  }

  put(path: string, object: Obj): Obj {
    const stored = { ...object, metadata: { ...object.metadata, resourceVersion: String(++this.#rv) } };
    const objects = this.#objects.get(path) ?? new Map<string, Obj>();
    this.#objects.set(path, objects);
    const key = `${stored.metadata.namespace}/${stored.metadata.name}`;
    const type = objects.has(key) ? "MODIFIED" : "ADDED";
    objects.set(key, stored);
    this.#watches.push(path, { type, object: stored });
    return stored;
  }

  async #gate(path: string): Promise<void> {
    const first = !this.#read.has(path);
    this.#read.add(path);
    if (first) await this.#held.get(path)?.promise;
  }

  async *#stream(path: string, signal: AbortSignal, initialEvents: boolean): AsyncGenerator<WatchEvent<object>> {
    if (initialEvents) {
      await this.#gate(path);
      this.#watches.clear(path);
    }
    const initial = initialEvents ? { objects: this.#objects.get(path)?.values() ?? [], resourceVersion: String(this.#rv) } : undefined;
    yield* this.#watches.stream(path, signal, initial);
  }
}

interface SandboxInit {
  namespace: string;
  name: string;
  id: string;
  conditions?: { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }[];
  deleting?: boolean;
  podNameAnnotation?: string;
}

function sandboxCr(init: SandboxInit): Obj {
  return {
    apiVersion: "agents.x-k8s.io/v1beta1",
    kind: "Sandbox",
    metadata: {
      name: init.name,
      namespace: init.namespace,
      uid: `uid-${init.id}`,
      creationTimestamp: "2026-01-01T10:00:00Z",
      ...(init.deleting ? { deletionTimestamp: "2026-01-01T11:00:00Z" } : {}),
      labels: {
        "openshell.ai/managed-by": "openshell",
        "openshell.ai/gateway-id": "gw-test",
        "openshell.ai/sandbox-id": init.id,
        "openshell.ai/sandbox-name": init.name,
        "openshell.ai/sandbox-workspace": init.namespace,
      },
      ...(init.podNameAnnotation ? { annotations: { "agents.x-k8s.io/pod-name": init.podNameAnnotation } } : {}),
    },
    spec: { podTemplate: { spec: { containers: [] } } },
    ...(init.conditions ? { status: { conditions: init.conditions } } : {}),
  };
}

function pod(namespace: string, name: string, sandboxId: string): Obj {
  return {
    metadata: {
      name,
      namespace,
      labels: { "openshell.ai/managed-by": "openshell", "openshell.ai/gateway-id": "gw-test", "openshell.ai/sandbox-id": sandboxId },
    },
    status: { phase: "Running" },
  };
}

const READY = { type: "Ready", status: "True", reason: "PodReady", message: "", lastTransitionTime: "2026-01-01T10:01:00Z" };

/** Varied on purpose: shared names across workspaces, conditions, a deletion, pods, unicode. */
function seed(cluster: FakeCluster): void {
  cluster.put(SANDBOXES, sandboxCr({ namespace: "ws-a", name: "zeta", id: "id-zeta", deleting: true }));
  cluster.put(SANDBOXES, sandboxCr({ namespace: "ws-z", name: "alpha", id: "id-alpha-z", conditions: [READY] }));
  cluster.put(SANDBOXES, sandboxCr({ namespace: "ws-b", name: "alpha", id: "id-alpha-b", conditions: [READY], podNameAnnotation: "warm-pool-7" }));
  cluster.put(
    SANDBOXES,
    sandboxCr({
      namespace: "ws-a",
      name: "mid",
      id: "id-mid",
      conditions: [{ type: "Ready", status: "False", reason: "ImagePull", message: "Bild wird geladen — 🚀 ünïcödé 画像", lastTransitionTime: "2026-01-01T10:00:30Z" }],
    }),
  );
  cluster.put(SANDBOXES, sandboxCr({ namespace: "ws-a", name: "bare", id: "id-bare" }));
  cluster.put(PODS, pod("ws-z", "alpha", "id-alpha-z"));
  cluster.put(PODS, pod("ws-a", "mid", "id-mid"));
}

/** CR name, then namespace. */
const LIST_ORDER = ["id-alpha-b", "id-alpha-z", "id-bare", "id-mid", "id-zeta"];

const drivers: SandboxDriver[] = [];
const aborts: AbortController[] = [];
afterEach(async () => {
  for (const abort of aborts.splice(0)) abort.abort();
  for (const driver of drivers.splice(0)) await driver.stop();
});

function startDriver(cluster: FakeCluster, firstSyncJoinMs?: number): SandboxDriver {
  const driver = new SandboxDriver({
    client: cluster.client(),
    settings: makeSettings({ workspaceMode: "managed" }),
    platform: plainKubernetes(),
    podFeatures: keptPodFeatures(), stopTimeoutMs: 5000,
    ...(firstSyncJoinMs === undefined ? {} : { firstSyncJoinMs }),
  });
  drivers.push(driver);
  driver.start();
  return driver;
}

function abortSignal(): AbortSignal {
  const abort = new AbortController();
  aborts.push(abort);
  return abort.signal;
}

async function take(stream: AsyncGenerator<WatchSandboxesEvent>, n: number): Promise<WatchSandboxesEvent[]> {
  const out: WatchSandboxesEvent[] = [];
  while (out.length < n) {
    const next = await stream.next();
    if (next.done) throw new Error(`the stream ended after ${out.length} events`);
    out.push(next.value);
  }
  return out;
}

describe("replies written from the cached encoding", () => {
  test("List, Get and a new watch's state are byte for byte the replies built the normal way, and decode to what the cache holds", async () => {
    const cluster = new FakeCluster();
    seed(cluster);
    const driver = startDriver(cluster);
    await driver.cache.waitForSync();
    const held = driver.cache.list();
    expect(held.map((s) => s.id)).toEqual(LIST_ORDER);
    const byId = new Map(held.map((s) => [s.id, s]));
    expect(byId.get("id-alpha-z")?.status?.instanceId).toBe("alpha");
    expect(byId.get("id-alpha-b")?.status?.instanceId).toBe("warm-pool-7");
    expect(byId.get("id-zeta")?.status?.deleting).toBe(true);
    expect(byId.get("id-mid")?.status?.conditions[0]?.message).toBe("Bild wird geladen — 🚀 ünïcödé 画像");
    expect(byId.get("id-bare")?.status).toBeUndefined();

    const normalList = create(ListSandboxesResponseSchema, { sandboxes: held });
    const preEncodedList = toBinary(ListSandboxesResponseSchema, await driver.listReply("binary"));
    expect(preEncodedList).toEqual(toBinary(ListSandboxesResponseSchema, normalList));
    expect(equals(ListSandboxesResponseSchema, fromBinary(ListSandboxesResponseSchema, preEncodedList), normalList)).toBe(true);

    for (const sandbox of held) {
      const normalGet = create(GetSandboxResponseSchema, { sandbox });
      const preEncodedGet = toBinary(GetSandboxResponseSchema, await driver.getReply(sandbox.id, "binary"));
      expect(preEncodedGet).toEqual(toBinary(GetSandboxResponseSchema, normalGet));
      expect(equals(GetSandboxResponseSchema, fromBinary(GetSandboxResponseSchema, preEncodedGet), normalGet)).toBe(true);
    }

    const state = await take(driver.watch(abortSignal(), "binary"), held.length);
    state.forEach((event, i) => {
      const normal = create(WatchSandboxesEventSchema, { payload: { case: "sandbox", value: { sandbox: held[i]! } } });
      const bytes = toBinary(WatchSandboxesEventSchema, event);
      expect(bytes).toEqual(toBinary(WatchSandboxesEventSchema, normal));
      expect(equals(WatchSandboxesEventSchema, fromBinary(WatchSandboxesEventSchema, bytes), normal)).toBe(true);
    });
  });

  test("an empty cache lists as the empty reply", async () => {
    const driver = startDriver(new FakeCluster());
    await driver.cache.waitForSync();
    expect(toBinary(ListSandboxesResponseSchema, driver.cache.listReply("binary"))).toEqual(new Uint8Array());
  });

  test("a sandbox is encoded again when its pod or CR changes, and the List with it; an unchanged one keeps its bytes, and a change nobody can see is not sent", async () => {
    const cluster = new FakeCluster();
    seed(cluster);
    const driver = startDriver(cluster);
    await driver.cache.waitForSync();
    const stream = driver.watch(abortSignal(), "binary");
    await take(stream, LIST_ORDER.length);
    const before = new Map(LIST_ORDER.map((id) => [id, driver.cache.get(id)]));
    expect([...before.values()].filter((entry) => entry === undefined)).toEqual([]);
    // Lists between two changes are one reply, joined once.
    const listBefore = await driver.listReply("binary");
    expect(await driver.listReply("binary")).toBe(listBefore);

    cluster.put(SANDBOXES, sandboxCr({ namespace: "ws-a", name: "bare", id: "id-bare", conditions: [READY] }));
    cluster.put(PODS, pod("ws-a", "bare-pod", "id-bare"));
    const [crChange, podChange] = await take(stream, 2);
    const sent = fromBinary(WatchSandboxesEventSchema, toBinary(WatchSandboxesEventSchema, crChange!));
    expect(sent.payload.case === "sandbox" && sent.payload.value.sandbox?.status?.conditions.map((c) => c.type)).toEqual(["Ready"]);
    const after = driver.cache.get("id-bare")!;
    expect(after.sandbox.status?.instanceId).toBe("bare-pod");
    expect(toBinary(WatchSandboxesEventSchema, podChange!)).toEqual(
      toBinary(WatchSandboxesEventSchema, create(WatchSandboxesEventSchema, { payload: { case: "sandbox", value: { sandbox: after.sandbox } } })),
    );
    expect(after).not.toBe(before.get("id-bare"));
    const listAfter = fromBinary(ListSandboxesResponseSchema, toBinary(ListSandboxesResponseSchema, await driver.listReply("binary")));
    expect(listAfter.sandboxes.find((s) => s.id === "id-bare")?.status?.instanceId).toBe("bare-pod");
    for (const id of LIST_ORDER.filter((id) => id !== "id-bare")) expect(driver.cache.get(id)).toBe(before.get(id)!);

    // A new resourceVersion with nothing the gateway sees changed: same bytes, no event.
    cluster.put(SANDBOXES, sandboxCr({ namespace: "ws-a", name: "mid", id: "id-mid", conditions: [{ type: "Ready", status: "False", reason: "ImagePull", message: "Bild wird geladen — 🚀 ünïcödé 画像", lastTransitionTime: "2026-01-01T10:00:30Z" }] }));
    cluster.put(SANDBOXES, sandboxCr({ namespace: "ws-a", name: "zeta", id: "id-zeta" }));
    const [next] = await take(stream, 1);
    expect(fromBinary(WatchSandboxesEventSchema, toBinary(WatchSandboxesEventSchema, next!)).payload).toMatchObject({ case: "sandbox", value: { sandbox: { id: "id-zeta" } } });
    expect(driver.cache.get("id-mid")).toBe(before.get("id-mid")!);
  });

  test("binary and JSON clients get the same sandboxes from Get, List and Watch", async () => {
    const cluster = new FakeCluster();
    seed(cluster);
    const driver = startDriver(cluster);
    await driver.cache.waitForSync();
    const routes = (useBinaryFormat: boolean) =>
      createClient(
        ComputeDriver,
        createRouterTransport(
          (router) => router.service(ComputeDriver, computeDriverService({ name: "test", version: "0", defaultImage: "img" }, async () => driver)),
          { transport: { useBinaryFormat } },
        ),
      );
    const expected = create(ListSandboxesResponseSchema, { sandboxes: driver.cache.list() });
    for (const client of [routes(true), routes(false)]) {
      expect(equals(ListSandboxesResponseSchema, await client.listSandboxes({}), expected)).toBe(true);
      const got = await client.getSandbox({ sandboxId: "id-mid" });
      expect(equals(GetSandboxResponseSchema, got, create(GetSandboxResponseSchema, { sandbox: driver.cache.get("id-mid")!.sandbox }))).toBe(true);
      const abort = new AbortController();
      const ids: string[] = [];
      for await (const event of client.watchSandboxes({}, { signal: abort.signal })) {
        expect(event.payload.case).toBe("sandbox");
        if (event.payload.case === "sandbox") ids.push(event.payload.value.sandbox!.id);
        if (ids.length === LIST_ORDER.length) break;
      }
      abort.abort();
      expect(ids).toEqual(LIST_ORDER);
    }
  });
});

describe("serving once the sandboxes are listed", () => {
  test("List and Watch are served before any pod is listed, and a pod that arrives later is sent as a change", async () => {
    const cluster = new FakeCluster();
    seed(cluster);
    cluster.hold(PODS);
    const driver = startDriver(cluster);
    await driver.cache.waitForSandboxes();
    expect(driver.cache.problem()).toContain("pods cache not synced");
    expect((await driver.list()).map((s) => s.id)).toEqual(LIST_ORDER);
    expect(driver.cache.get("id-alpha-z")?.sandbox.status?.instanceId).toBe("");

    const stream = driver.watch(abortSignal(), "json");
    await take(stream, LIST_ORDER.length);
    cluster.release(PODS);
    const changes = await take(stream, 2);
    const instances = changes.flatMap((e) => (e.payload.case === "sandbox" ? [`${e.payload.value.sandbox!.id} ${e.payload.value.sandbox!.status?.instanceId}`] : []));
    expect(instances.sort()).toEqual(["id-alpha-z alpha", "id-mid mid"]);
    await eventually("the cache ready", () => (driver.cache.problem() === undefined ? true : undefined));
  });

  test("a List at start waits for the cache's own listing of the sandboxes instead of making a second LIST", async () => {
    const cluster = new FakeCluster();
    seed(cluster);
    cluster.hold(SANDBOXES);
    const driver = startDriver(cluster);
    const listing = driver.list();
    await Bun.sleep(50);
    cluster.release(SANDBOXES);
    expect((await listing).map((s) => s.id)).toEqual(LIST_ORDER);
    expect(driver.cache.sandboxesSynced()).toBe(true);
    // The cache lists through its watch (a streaming list); no plain LIST was made for the call.
    expect(cluster.sandboxLists).toEqual([]);
  });

  test("a List at start that the cache's listing does not answer in time asks the API server for this gateway's sandboxes, in name order", async () => {
    const cluster = new FakeCluster();
    seed(cluster);
    cluster.hold(SANDBOXES);
    const driver = startDriver(cluster, 50);
    const listed = await driver.list();
    expect(driver.cache.sandboxesSynced()).toBe(false);
    expect(listed.map((s) => s.id)).toEqual(LIST_ORDER);
    expect(cluster.sandboxLists).toEqual(["openshell.ai/managed-by=openshell,openshell.ai/gateway-id=gw-test"]);
    expect((await driver.listReply("binary")).sandboxes.map((s) => s.id)).toEqual(LIST_ORDER);

    cluster.release(SANDBOXES);
    await driver.cache.waitForSandboxes();
    expect(driver.cache.list().map((s) => s.id)).toEqual(LIST_ORDER);
  });

});
