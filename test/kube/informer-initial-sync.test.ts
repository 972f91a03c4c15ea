import { afterEach, describe, expect, test } from "bun:test";
import { Informer, KubeClient, type InformerEvent, type InformerOptions, type ObjectMetaLike } from "../../src/kube";
import { ScriptedApi, eventually, type TestObject } from "./scripted-api";

interface Harness<S extends ObjectMetaLike> {
  api: ScriptedApi;
  informer: Informer<TestObject, S>;
  events: InformerEvent<S>[];
  restarts: string[];
}

const running: { informer: { stop(): Promise<void> }; api: ScriptedApi }[] = [];

afterEach(async () => {
  for (const h of running.splice(0)) {
    await h.informer.stop();
    await h.api.close();
  }
});

async function harness<S extends ObjectMetaLike = TestObject>(
  opts: Partial<InformerOptions<TestObject, S>> = {},
  api = new ScriptedApi(),
): Promise<Harness<S>> {
  await api.start();
  const events: InformerEvent<S>[] = [];
  const restarts: string[] = [];
  const client = new KubeClient(
    { server: api.url, tls: { rejectUnauthorized: true }, auth: async () => ({}), describe: "scripted" },
    { timeoutMs: 2000, observer: { watchRestart: (_res, reason) => restarts.push(reason) } },
  );
  const informer = new Informer<TestObject, S>({
    client,
    resource: "widgets.test.openshell.io",
    listPath: api.collection,
    backoff: { initialMs: 20, maxMs: 100 },
    onEvent: (ev) => events.push(ev),
    ...opts,
  });
  running.push({ informer, api });
  return { api, informer, events, restarts };
}

function describeEvents(events: InformerEvent<TestObject>[]): string[] {
  return events.map((ev) => (ev.type === "synced" ? "synced" : `${ev.type} ${ev.object.metadata.name}=${ev.object.spec.value}`));
}

function query(q: URLSearchParams | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of q ?? []) if (k !== "timeoutSeconds") out[k] = v;
  return out;
}

describe("initial sync from the API server's watch cache", () => {
  test("a served streaming list fills the cache, reports synced once, and then carries live events on the same connection", async () => {
    const { api, informer, events } = await harness({ labelSelector: "app=x" });
    api.put("a", "1");
    api.put("b", "1");
    informer.start();
    await informer.waitForSync();
    expect(describeEvents(events)).toEqual(["added a=1", "added b=1", "synced"]);
    expect(api.lists.length).toBe(0);
    expect(query(api.watches[0])).toEqual({
      labelSelector: "app=x",
      sendInitialEvents: "true",
      resourceVersionMatch: "NotOlderThan",
      allowWatchBookmarks: "true",
      watch: "1",
    });
    api.put("c", "1");
    api.put("a", "2");
    await eventually(() => events.length === 5, "two live events");
    expect(describeEvents(events).slice(3)).toEqual(["added c=1", "modified a=2"]);
    expect(api.watches.length).toBe(1);
    expect(informer.get("ns", "a")?.spec.value).toBe("2");

    // A watch that ends resumes from the last resourceVersion, without a second initial state.
    const last = api.put("d", "1").metadata.resourceVersion;
    await eventually(() => informer.get("ns", "d") !== undefined, "d cached");
    api.closeWatches();
    await eventually(() => api.watches.length === 2, "a second watch");
    expect(api.watches[1]?.get("resourceVersion")).toBe(last);
    expect(api.watches[1]?.get("sendInitialEvents")).toBeNull();
    expect(events.filter((e) => e.type === "synced").length).toBe(1);
  });

  test("once the initial state is complete, a quiet collection keeps its streaming watch however long nothing happens", async () => {
    // Long enough that a busy machine still sees the end bookmark in time; slept well past it.
    const { api, informer } = await harness({ initialEventsTimeoutMs: 1000 });
    informer.start();
    await informer.waitForSync();
    await Bun.sleep(2500);
    api.put("late", "1");
    await eventually(() => informer.get("ns", "late") !== undefined, "the late object arrives");
    expect(api.watches.length).toBe(1);
    expect(api.lists.length).toBe(0);
  });

  test("a server that refuses streaming lists is listed once from its watch cache, unpaged, and not asked to stream again", async () => {
    const api = new ScriptedApi();
    api.watchList = "refused";
    const { informer, events, restarts } = await harness({}, api);
    api.put("a", "1");
    informer.start();
    await informer.waitForSync();
    expect(describeEvents(events)).toEqual(["added a=1", "synced"]);
    expect(api.lists.map(query)).toEqual([{ resourceVersion: "0" }]);
    await eventually(() => api.openWatches === 1, "the watch after the list");
    expect(api.watches[1]?.get("resourceVersion")).toBe("101");
    expect(api.watches[1]?.get("sendInitialEvents")).toBeNull();
    expect(restarts).toEqual([]);

    // After a 410 the relist asks for the latest state, so nothing goes back in time.
    api.put("a", "2", { silent: true });
    api.expireWatches();
    await eventually(() => events.filter((e) => e.type === "synced").length === 2, "a second sync");
    expect(api.lists.map(query)).toEqual([{ resourceVersion: "0" }, {}]);
    expect(api.watches.filter((q) => q.get("sendInitialEvents") !== null).length).toBe(1);
    expect(describeEvents(events)).toEqual(["added a=1", "synced", "modified a=2", "synced"]);
  });

  test("a server that ignores sendInitialEvents (no initial-events-end bookmark) is listed instead, and its plain watch events are not reported twice", async () => {
    const api = new ScriptedApi();
    api.watchList = "ignored";
    const { informer, events } = await harness({ initialEventsTimeoutMs: 200 }, api);
    api.put("a", "1");
    informer.start();
    await informer.waitForSync();
    expect(describeEvents(events)).toEqual(["added a=1", "synced"]);
    expect(api.lists.map(query)).toEqual([{ resourceVersion: "0" }]);
    expect(api.watches[0]?.get("sendInitialEvents")).toBe("true");
  });

  test("a plain bookmark before any initial-events-end bookmark means the server ignored the streaming list", async () => {
    const api = new ScriptedApi();
    api.watchList = "ignored";
    // Long enough that only the bookmark can end the streaming attempt within the test.
    const { informer, events } = await harness({ initialEventsTimeoutMs: 60_000 }, api);
    informer.start();
    await eventually(() => api.openWatches === 1, "the streaming attempt");
    api.bookmark();
    await informer.waitForSync();
    expect(describeEvents(events)).toEqual(["synced"]);
    expect(api.lists.length).toBe(1);
  });

  test("a list the server pages on its own is followed to the end", async () => {
    const api = new ScriptedApi();
    api.watchList = "refused";
    api.forcedPageSize = 2;
    const { informer } = await harness({}, api);
    for (const name of ["a", "b", "c", "d", "e"]) api.put(name, "1");
    informer.start();
    await informer.waitForSync();
    expect(informer.list().map((o) => o.metadata.name).sort()).toEqual(["a", "b", "c", "d", "e"]);
    expect(api.lists.map(query)).toEqual([{ resourceVersion: "0" }, { continue: "2" }, { continue: "4" }]);
  });

  test("a 410 during a watch relearns the state by streaming list again and reports what was deleted while blind", async () => {
    const { api, informer, events, restarts } = await harness();
    api.put("a", "1");
    api.put("b", "1");
    informer.start();
    await informer.waitForSync();
    await eventually(() => api.openWatches === 1, "the streaming watch stays open");
    api.remove("b", { silent: true });
    api.put("c", "1", { silent: true });
    api.expireWatches();
    await eventually(() => events.filter((e) => e.type === "synced").length === 2, "a second sync");
    expect(describeEvents(events)).toEqual(["added a=1", "added b=1", "synced", "deleted b=1", "added c=1", "synced"]);
    expect(restarts).toEqual(["gone"]);
    expect(api.lists.length).toBe(0);
    expect(api.watches.map((q) => q.get("sendInitialEvents"))).toEqual(["true", "true"]);
    expect(informer.list().map((o) => o.metadata.name).sort()).toEqual(["a", "c"]);
  });

  test("a streaming list refused with 403 is retried as a streaming list, not given up for a list", async () => {
    const api = new ScriptedApi();
    api.nextWatch.push({ status: 403, reason: "Forbidden", message: 'widgets is forbidden: User "driver" cannot watch resource "widgets"' });
    const { informer, restarts } = await harness({}, api);
    informer.start();
    await informer.waitForSync();
    expect(restarts).toEqual(["error"]);
    expect(api.lists.length).toBe(0);
    expect(api.watches.map((q) => q.get("sendInitialEvents"))).toEqual(["true", "true"]);
    expect(informer.lastError()).toBeUndefined();
  });
});

describe("transform", () => {
  interface Slim {
    metadata: TestObject["metadata"];
    value: string;
  }
  const slim = (o: TestObject): Slim => ({ metadata: o.metadata, value: o.spec.value });

  for (const initialSync of ["streaming", "list"] as const) {
    test(`with a ${initialSync} first sync, the cache and every event hold only the transformed objects`, async () => {
      const api = new ScriptedApi();
      if (initialSync === "list") api.watchList = "refused";
      const { informer, events } = await harness<Slim>({ transform: slim, initialSync }, api);
      api.put("a", "1");
      informer.start();
      await informer.waitForSync();
      await eventually(() => api.openWatches === 1, "a watch is open");
      api.put("a", "2");
      api.remove("a");
      await eventually(() => events.length === 4, "the live events");
      expect(events).toEqual([
        { type: "added", object: { metadata: { name: "a", namespace: "ns", resourceVersion: "101", uid: "uid-a" }, value: "1" } },
        { type: "synced" },
        { type: "modified", object: { metadata: { name: "a", namespace: "ns", resourceVersion: "102", uid: "uid-a" }, value: "2" }, old: { metadata: { name: "a", namespace: "ns", resourceVersion: "101", uid: "uid-a" }, value: "1" } },
        { type: "deleted", object: { metadata: { name: "a", namespace: "ns", resourceVersion: "103", uid: "uid-a" }, value: "2" }, old: { metadata: { name: "a", namespace: "ns", resourceVersion: "102", uid: "uid-a" }, value: "2" } },
      ]);
      api.put("b", "7");
      await eventually(() => informer.get("ns", "b") !== undefined, "b cached");
      expect(informer.get("ns", "b")).toEqual({ metadata: { name: "b", namespace: "ns", resourceVersion: "104", uid: "uid-b" }, value: "7" });
      expect(informer.list()).toEqual([informer.get("ns", "b")!]);
    });
  }
});

describe("stopping", () => {
  test("an informer stopped while a streaming list has sent nothing yet stops and never reports synced", async () => {
    const api = new ScriptedApi();
    api.nextWatch.push("stall");
    const { informer, events } = await harness({}, api);
    informer.start();
    const wait = informer.waitForSync();
    await eventually(() => api.openWatches === 1, "the streaming list is open");
    await informer.stop();
    await expect(wait).rejects.toThrow(/stopped before it synced/);
    expect(events).toEqual([]);
    await eventually(() => api.openWatches === 0, "the server sees the watch closed");
  });
});
