import { afterEach, describe, expect, test } from "bun:test";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { Informer, KubeClient, type InformerEvent, type InformerOptions } from "../../src/kube";
import { ScriptedApi, eventually, type TestObject } from "./scripted-api";

interface Harness {
  api: ScriptedApi;
  informer: Informer<TestObject>;
  events: string[];
  restarts: string[];
  /** informer.lastError() as each restart is reported: what /readyz would have shown then. */
  errorsAtRestart: (string | undefined)[];
}

const running: Harness[] = [];

afterEach(async () => {
  for (const h of running.splice(0)) {
    await h.informer.stop();
    await h.api.close();
  }
});

function describeEvent(ev: InformerEvent<TestObject>): string {
  if (ev.type === "synced") return "synced";
  const value = ev.type === "modified" ? `=${ev.object.spec.value}` : "";
  const was = ev.old && ev.type !== "deleted" ? ` (was ${ev.old.spec.value})` : "";
  return `${ev.type} ${ev.object.metadata.name}${value}${was}`;
}

async function harness(opts: Partial<InformerOptions<TestObject>> = {}, api = new ScriptedApi(), startApi = true): Promise<Harness> {
  if (startApi) await api.start();
  const events: string[] = [];
  const restarts: string[] = [];
  const errorsAtRestart: (string | undefined)[] = [];
  const client = new KubeClient(
    { server: api.url, tls: { rejectUnauthorized: true }, auth: async () => ({}), describe: "scripted" },
    {
      timeoutMs: 2000,
      observer: {
        watchRestart: (_res, reason) => {
          restarts.push(reason);
          errorsAtRestart.push(informer.lastError());
        },
      },
    },
  );
  const informer = new Informer<TestObject>({
    client,
    resource: "widgets.test.openshell.io",
    listPath: api.collection,
    // These tests pin the list-then-watch loop; informer-initial-sync.test.ts covers streaming lists.
    initialSync: "list",
    backoff: { initialMs: 20, maxMs: 100 },
    onEvent: (ev) => events.push(describeEvent(ev)),
    ...opts,
  });
  const h = { api, informer, events, restarts, errorsAtRestart };
  running.push(h);
  return h;
}

describe("informer against a scripted API server", () => {
  test("the first sync reports every existing object as added, then synced", async () => {
    const { api, informer, events } = await harness({ initialSync: "paged", pageSize: 2, labelSelector: "app=x" });
    api.put("a", "1");
    api.put("b", "1");
    api.put("c", "1");
    informer.start();
    await informer.waitForSync();
    expect(events).toEqual(["added a", "added b", "added c", "synced"]);
    expect(informer.hasSynced()).toBe(true);
    expect(informer.list().map((o) => o.metadata.name).sort()).toEqual(["a", "b", "c"]);
    expect(informer.get("ns", "b")?.spec.value).toBe("1");
    // pageSize 2 over three objects takes two pages
    expect(api.lists.map((q) => [q.get("limit"), q.get("continue"), q.get("labelSelector")])).toEqual([
      ["2", null, "app=x"],
      ["2", "2", "app=x"],
    ]);
  });

  test("watch events keep the cache current and carry the previous object", async () => {
    const { api, informer, events } = await harness();
    api.put("a", "1");
    informer.start();
    await informer.waitForSync();
    await eventually(() => api.openWatches === 1, "a watch is open");
    // the list answered at resourceVersion 101 (one object written on top of 100)
    expect(api.watches[0]?.get("resourceVersion")).toBe("101");
    expect(api.watches[0]?.get("allowWatchBookmarks")).toBe("true");
    api.put("b", "1");
    api.put("a", "2");
    api.remove("b");
    await eventually(() => events.length === 5, "three watch events");
    expect(events).toEqual(["added a", "synced", "added b", "modified a=2 (was 1)", "deleted b"]);
    expect(informer.get("ns", "a")?.spec.value).toBe("2");
    expect(informer.get("ns", "b")).toBeUndefined();
  });

  test("a watch the server ends is resumed from the last resourceVersion seen", async () => {
    const { api, informer, restarts } = await harness({ watchTimeoutSeconds: 100 });
    informer.start();
    await informer.waitForSync();
    await eventually(() => api.openWatches === 1, "first watch");
    const seen = api.put("a", "1").metadata.resourceVersion;
    await eventually(() => informer.get("ns", "a") !== undefined, "object a cached");
    api.closeWatches();
    await eventually(() => api.watches.length === 2, "a second watch");
    expect(api.watches[1]?.get("resourceVersion")).toBe(seen);
    expect(api.lists.length).toBe(1);
    expect(restarts).toEqual(["timeout"]);
    const t = Number(api.watches[1]?.get("timeoutSeconds"));
    expect(t).toBeGreaterThanOrEqual(80);
    expect(t).toBeLessThanOrEqual(120);
  });

  test("a bookmark moves the resume point forward without touching the cache", async () => {
    const { api, informer, events } = await harness();
    informer.start();
    await informer.waitForSync();
    await eventually(() => api.openWatches === 1, "first watch");
    const rv = api.bookmark();
    await Bun.sleep(50);
    api.closeWatches();
    await eventually(() => api.watches.length === 2, "a second watch");
    expect(api.watches[1]?.get("resourceVersion")).toBe(rv);
    expect(events).toEqual(["synced"]);
  });

  test("an expired resourceVersion (410 in the stream) relists and reports what changed while blind", async () => {
    const { api, informer, events, restarts } = await harness();
    api.put("a", "1");
    api.put("b", "1");
    informer.start();
    await informer.waitForSync();
    await eventually(() => api.openWatches === 1, "first watch");
    // Changes the informer never hears about, as if the watch cache had been compacted past them.
    api.remove("b", { silent: true });
    api.put("a", "2", { silent: true });
    api.put("c", "1", { silent: true });
    api.expireWatches();
    await eventually(() => events.filter((e) => e === "synced").length === 2, "a second sync");
    expect(events).toEqual(["added a", "added b", "synced", "deleted b", "modified a=2 (was 1)", "added c", "synced"]);
    expect(api.lists.length).toBe(2);
    expect(restarts).toEqual(["gone"]);
    expect(informer.list().map((o) => o.metadata.name).sort()).toEqual(["a", "c"]);
  });

  test("an object deleted and recreated under the same name while blind is reported deleted, then added", async () => {
    const { api, informer, events } = await harness();
    api.put("a", "1");
    informer.start();
    await informer.waitForSync();
    await eventually(() => api.openWatches === 1, "first watch");
    api.remove("a", { silent: true });
    api.put("a", "1", { silent: true, uid: "uid-a-second" });
    api.expireWatches();
    await eventually(() => events.filter((e) => e === "synced").length === 2, "a second sync");
    expect(events).toEqual(["added a", "synced", "deleted a", "added a", "synced"]);
  });

  test("a 410 answer when a watch starts also relists", async () => {
    const { api, informer, events, restarts } = await harness();
    api.put("a", "1");
    informer.start();
    await informer.waitForSync();
    await eventually(() => api.openWatches === 1, "first watch");
    api.nextWatch.push("gone");
    api.remove("a", { silent: true });
    api.closeWatches();
    await eventually(() => events.filter((e) => e === "synced").length === 2, "a second sync");
    expect(events).toEqual(["added a", "synced", "deleted a", "synced"]);
    expect(restarts).toEqual(["timeout", "gone"]);
  });

  test("a watch that goes silent is abandoned by the watchdog and a new one picks up changes", async () => {
    // Not shorter: the replacement watch has the same watchdog and must not be cut before "late" arrives.
    const { api, informer, restarts, errorsAtRestart } = await harness({ inactivityMs: 1000 });
    // The first watch is answered with headers and then nothing, not even bookmarks.
    api.nextWatch.push("stall");
    informer.start();
    await informer.waitForSync();
    await eventually(() => api.watches.length >= 2, "the stalled watch to be replaced");
    expect(restarts[0]).toBe("stall");
    expect(errorsAtRestart[0]).toMatch(/no event or bookmark/);
    api.put("late", "1");
    await eventually(() => informer.get("ns", "late") !== undefined, "the replacement watch delivers events");
    expect(informer.lastError()).toBeUndefined();
  });

  test("a watch rejected with 403 is retried with backoff and lastError says why", async () => {
    const { api, informer, restarts, errorsAtRestart } = await harness();
    informer.start();
    await informer.waitForSync();
    await eventually(() => api.openWatches === 1, "first watch");
    api.nextWatch.push({ status: 403, reason: "Forbidden", message: 'widgets is forbidden: User "driver" cannot watch resource "widgets"' });
    api.closeWatches();
    await eventually(() => restarts.includes("error"), "an error restart");
    expect(errorsAtRestart[restarts.indexOf("error")]).toContain('cannot watch resource "widgets"');
    await eventually(() => api.openWatches === 1, "the watch comes back");
    api.put("a", "1");
    await eventually(() => informer.get("ns", "a") !== undefined, "events flow again");
    expect(api.lists.length).toBe(1);
  });

  test("during an API-server outage the informer reports an error, which clears as soon as a watch is accepted again, with no event needed", async () => {
    const { api, informer, events } = await harness();
    api.put("a", "1");
    informer.start();
    await informer.waitForSync();
    await eventually(() => api.openWatches === 1, "first watch");
    const port = api.port;
    await api.close();
    await eventually(() => informer.lastError() !== undefined, "the outage is reported");
    const lists = api.lists.length;
    await api.start(port);
    // A quiet namespace: nothing changes, so only the accepted watch can say the informer is healthy.
    await eventually(() => api.openWatches === 1, "the watch is re-established");
    await eventually(() => informer.lastError() === undefined, "the error clears");
    expect(api.lists.length).toBe(lists);
    expect(events).toEqual(["added a", "synced"]);
  });

  test("with default backoff, reconnection attempts continue at a bounded interval through a long outage and the watch is back promptly", async () => {
    const { api, informer, restarts } = await harness({ backoff: undefined });
    informer.start();
    await informer.waitForSync();
    await eventually(() => api.openWatches === 1, "first watch");
    const port = api.port;
    await api.close();
    // Doubling from 500 ms without a cap, eight attempts would take about a minute.
    await eventually(() => restarts.filter((r) => r === "error").length >= 8, "eight reconnection attempts", 20_000);
    await api.start(port);
    await eventually(() => api.openWatches === 1 && informer.lastError() === undefined, "the watch is back", 4000);
  }, 30_000);

  test("an API server that is down at start is retried until it comes up, then the informer syncs", async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const api = new ScriptedApi();
    api.port = port;
    const { informer } = await harness({}, api, false);
    informer.start();
    await eventually(() => (informer.lastError() ?? "").includes("refused"), "a connection-refused error");
    expect(informer.hasSynced()).toBe(false);
    api.put("a", "1");
    await api.start(port);
    await informer.waitForSync();
    expect(informer.get("ns", "a")?.spec.value).toBe("1");
    expect(informer.lastError()).toBeUndefined();
  });

  test("a failing list is retried and the informer syncs when the list works again", async () => {
    const api = new ScriptedApi();
    api.failLists = 503;
    const { informer, restarts } = await harness({}, api);
    informer.start();
    await eventually(() => api.lists.length >= 2, "two list attempts");
    expect(informer.lastError()).toContain("etcd is unavailable");
    api.failLists = undefined;
    await informer.waitForSync();
    expect(restarts.every((r) => r === "error")).toBe(true);
  });

  test("stop() closes the open watch and nothing is requested afterwards", async () => {
    const { api, informer } = await harness();
    informer.start();
    await informer.waitForSync();
    await eventually(() => api.openWatches === 1, "a watch is open");
    await informer.stop();
    await eventually(() => api.openWatches === 0, "the server sees the watch closed");
    const requests = api.lists.length + api.watches.length;
    await Bun.sleep(300);
    expect(api.lists.length + api.watches.length).toBe(requests);
  });

  test("stop() during backoff returns promptly and a pending waitForSync is rejected", async () => {
    const api = new ScriptedApi();
    api.failLists = 503;
    const { informer } = await harness({ backoff: { initialMs: 60_000, maxMs: 60_000 } }, api);
    informer.start();
    const wait = informer.waitForSync();
    await eventually(() => api.lists.length >= 1, "a list attempt");
    await informer.stop();
    await expect(wait).rejects.toThrow(/stopped before it synced/);
  });
});
