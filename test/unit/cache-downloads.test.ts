// What the driver's cache asks the API server to send, which is what it downloads and parses at
// 10,000 sandboxes: pods as their metadata only (spec and status are most of a pod's bytes and
// observation reads none of them), and in shared mode one Event, only for the namespace's
// resourceVersion to watch from, not every Event of the namespace. The driver's own KubeClient
// talks to an in-memory API server over HTTP (fake-sandbox-api.ts).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { SandboxCache } from "../../src/driver/sandbox-cache";
import { WatchHub } from "../../src/driver/watch-hub";
import { FakeSandboxApi } from "./fake-sandbox-api";
import { makeSettings } from "./fixtures";

const METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, application/json";
const METADATA_OBJECT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json";

let api: FakeSandboxApi;
const caches: SandboxCache[] = [];

beforeEach(async () => {
  api = new FakeSandboxApi();
  await api.start();
});

afterEach(async () => {
  for (const cache of caches.splice(0)) await cache.stop();
  await api.close();
});

async function syncedCache(): Promise<SandboxCache> {
  const cache = new SandboxCache(api.client(5000), makeSettings(), new WatchHub());
  caches.push(cache);
  cache.start();
  await cache.waitForSync();
  return cache;
}

/** Each request to `path` (GET only) with its Accept header, once `count` of them have been made. */
async function requestsTo(path: string, count: number): Promise<{ request: string; accept: string }[]> {
  for (let i = 0; i < 500; i++) {
    const found = api.requests.flatMap((request, n) => (request.startsWith(`GET ${path}?`) ? [{ request, accept: api.accepts[n]! }] : []));
    if (found.length >= count) return found;
    await Bun.sleep(10);
  }
  throw new Error(`fewer than ${count} requests to ${path}: ${api.requests.join(", ")}`);
}

describe("what the cache downloads", () => {
  test("pods are asked for as metadata only: the streaming list, the LIST after it is refused, and the watch", async () => {
    await syncedCache();
    // The fake refuses streaming lists (WatchList off), so the informer lists, then watches.
    const pods = await requestsTo("/api/v1/namespaces/openshell/pods", 3);
    expect(pods.map(({ request, accept }) => [request.includes("watch=1") ? "watch" : "list", accept])).toEqual([
      ["watch", METADATA_OBJECT],
      ["list", METADATA_LIST],
      ["watch", METADATA_OBJECT],
    ]);
  });

  test("Sandbox CRs are still asked for whole, since observation reads their status", async () => {
    await syncedCache();
    const sandboxes = await requestsTo("/apis/agents.x-k8s.io/v1beta1/namespaces/openshell/sandboxes", 3);
    expect(new Set(sandboxes.map((r) => r.accept))).toEqual(new Set(["application/json"]));
  });

  test("in shared mode the namespace's Events are listed one item long, only for the resourceVersion to watch from", async () => {
    await syncedCache();
    const [list] = await requestsTo("/api/v1/namespaces/openshell/events", 1);
    const query = new URL(list!.request.slice("GET ".length), "http://x").searchParams;
    expect(Object.fromEntries(query)).toEqual({ limit: "1" });
  });
});
