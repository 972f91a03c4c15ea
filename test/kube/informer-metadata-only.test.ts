// An informer told to read metadata only asks the API server for PartialObjectMetadata on every
// request of its list+watch, keeps working when the server sends whole objects anyway, and caches
// what a converting server sends: each object's metadata, never its spec.
import { afterEach, describe, expect, test } from "bun:test";
import { Informer, KubeClient, type InformerOptions } from "../../src/kube";
import { ScriptedApi, eventually, type TestObject } from "./scripted-api";

const METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, application/json";
const METADATA_OBJECT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json";

const running: { informer: Informer<TestObject>; api: ScriptedApi }[] = [];

afterEach(async () => {
  for (const h of running.splice(0)) {
    await h.informer.stop();
    await h.api.close();
  }
});

async function harness(opts: Partial<InformerOptions<TestObject>>, configure: (api: ScriptedApi) => void = () => {}) {
  const api = new ScriptedApi();
  configure(api);
  await api.start();
  const client = new KubeClient(
    { server: api.url, tls: { rejectUnauthorized: true }, auth: async () => ({}), describe: "scripted" },
    { timeoutMs: 2000 },
  );
  const informer = new Informer<TestObject>({
    client,
    resource: "widgets.test.openshell.io",
    listPath: api.collection,
    backoff: { initialMs: 20, maxMs: 100 },
    ...opts,
  });
  running.push({ informer, api });
  return { api, informer };
}

describe("an informer that reads metadata only", () => {
  test("its streaming list and the watches after it ask for PartialObjectMetadata", async () => {
    const { api, informer } = await harness({ metadataOnly: true });
    api.put("a", "1");
    informer.start();
    await informer.waitForSync();
    api.closeWatches();
    await eventually(() => api.watches.length === 2, "a second watch");
    expect(api.listAccepts).toEqual([]);
    expect(api.watchAccepts).toEqual([METADATA_OBJECT, METADATA_OBJECT]);
  });

  test("where streaming lists are not served, its LIST asks for the list form and its watch for the object form", async () => {
    const { api, informer } = await harness({ metadataOnly: true }, (a) => (a.watchList = "refused"));
    informer.start();
    await informer.waitForSync();
    expect(api.listAccepts).toEqual([METADATA_LIST]);
    // The refused streaming list, then the watch from the LIST's resourceVersion.
    await eventually(() => api.watchAccepts.length === 2, "the watch after the LIST");
    expect(api.watchAccepts).toEqual([METADATA_OBJECT, METADATA_OBJECT]);
  });

  test("an informer not told so asks for whole objects", async () => {
    const { api, informer } = await harness({ initialSync: "list" });
    informer.start();
    await informer.waitForSync();
    await eventually(() => api.watchAccepts.length === 1, "the watch");
    expect([...api.listAccepts, ...api.watchAccepts]).toEqual(["application/json", "application/json"]);
  });

  test("from a server that converts, the cache holds each object's metadata and no spec, listed, streamed or watched", async () => {
    for (const initialSync of ["streaming", "list"] as const) {
      const { api, informer } = await harness({ metadataOnly: true, initialSync }, (a) => (a.servesPartialMetadata = true));
      api.put("a", "1");
      informer.start();
      await informer.waitForSync();
      await eventually(() => api.openWatches === 1, `the watch open (${initialSync})`);
      api.put("b", "1");
      await eventually(() => informer.get("ns", "b") !== undefined, `b cached (${initialSync})`);
      for (const name of ["a", "b"]) {
        const cached = informer.get("ns", name) as unknown as Record<string, unknown>;
        expect(cached).toEqual({
          kind: "PartialObjectMetadata",
          apiVersion: "meta.k8s.io/v1",
          metadata: api.objects.get(name)!.metadata,
        });
      }
    }
  });

  test("a server that ignores the ask sends whole objects, and the informer lists and watches them just the same", async () => {
    const { api, informer } = await harness({ metadataOnly: true });
    api.put("a", "1");
    informer.start();
    await informer.waitForSync();
    api.put("a", "2");
    await eventually(() => informer.get("ns", "a")?.spec.value === "2", "the modified object");
    api.expireWatches();
    api.put("c", "1", { silent: true });
    await eventually(() => informer.get("ns", "c") !== undefined, "c after the relist");
    expect(informer.list().map((o) => o.metadata.name).sort()).toEqual(["a", "c"]);
  });
});
