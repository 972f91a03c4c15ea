// Stop, Start, Delete and a Get miss cost the same few requests whatever the fleet's size: with a
// synced cache a write goes to the CR by name with its UID and no LIST is made, a miss is
// confirmed in one read from the API server's watch cache, and a cache that is behind or failing
// never makes a write land on the wrong sandbox. Requests are counted on the in-memory API server
// (fake-sandbox-api.ts) the driver's own client and informers talk to.
import { describe, expect, test } from "bun:test";
import type { SandboxDriver } from "../../src/driver/driver";
import { sandboxesSelector, sandboxSelector } from "../../src/sandbox";
import { sandboxCr } from "./fake-sandbox-api";
import { driverRejection as rejection, driversOnFakeApi, eventually } from "./driver-on-fake-api";
import { makeSandbox } from "./fixtures";

const fake = driversOnFakeApi();

async function syncedDriver(): Promise<SandboxDriver> {
  const driver = fake.startDriver();
  await driver.cache.waitForSync();
  return driver;
}

/** A sandbox the controller reports stopped (v1beta1: Suspended=True). */
function stoppedCr(id: string, name: string) {
  return { ...sandboxCr({ id, name }), status: { conditions: [{ type: "Suspended", status: "True", reason: "Suspended" }] } };
}

/** The fleet the driver's cache holds: `n` sandboxes besides the ones a test acts on. */
function fleet(n: number): void {
  for (let i = 0; i < n; i++) fake.api.put(sandboxCr({ id: `fleet-${i}`, name: `fleet-${i}` }));
}

const writesTo = (path: string) => fake.api.requests.filter((r) => /^(PATCH|DELETE) /.test(r) && r.includes(path));

describe("with a synced cache, a write by id makes no LIST", () => {
  test("Start is one PATCH of the CR by name carrying its UID", async () => {
    fleet(50);
    const stored = fake.api.put(sandboxCr({ id: "sb-1", name: "demo" }));
    const driver = await syncedDriver();
    const mark = fake.api.requests.length;
    await driver.startSandbox("sb-1");
    expect(fake.api.requestsSince(mark)).toEqual({ LIST: 0, GET: 0, PATCH: 1, DELETE: 0, POST: 0 });
    const cr = fake.api.sandboxes.get("openshell/alice--demo")!;
    expect((cr.spec as { operatingMode?: string }).operatingMode).toBe("Running");
    expect(cr.metadata.uid).toBe(stored.metadata.uid);
  });

  test("Stop of a sandbox already stopped is one PATCH: its answer shows it stopped, and the cache shows no pod", async () => {
    fleet(50);
    fake.api.put(stoppedCr("sb-1", "demo"));
    const driver = await syncedDriver();
    const mark = fake.api.requests.length;
    await driver.stopSandbox("sb-1", AbortSignal.timeout(5000));
    expect(fake.api.requestsSince(mark)).toEqual({ LIST: 0, GET: 0, PATCH: 1, DELETE: 0, POST: 0 });
  });

  test("Delete is one DELETE by name with the CR's UID as precondition, and answers deleted", async () => {
    fleet(50);
    const stored = fake.api.put(sandboxCr({ id: "sb-1", name: "demo" }));
    const driver = await syncedDriver();
    const mark = fake.api.requests.length;
    expect(await driver.deleteSandbox("sb-1")).toBe(true);
    expect(fake.api.requestsSince(mark)).toEqual({ LIST: 0, GET: 0, PATCH: 0, DELETE: 1, POST: 0 });
    expect(fake.api.sandboxes.has("openshell/alice--demo")).toBe(false);
    expect(stored.metadata.uid).toBeDefined();
  });

  test("Delete of an id two CRs carry deletes both by name, still without a LIST", async () => {
    fake.api.put(sandboxCr({ id: "sb-1", name: "demo" }));
    fake.api.put(sandboxCr({ id: "sb-1", name: "copy" }));
    const driver = await syncedDriver();
    const mark = fake.api.requests.length;
    expect(await driver.deleteSandbox("sb-1")).toBe(true);
    expect(fake.api.requestsSince(mark)).toEqual({ LIST: 0, GET: 0, PATCH: 0, DELETE: 2, POST: 0 });
    expect(fake.api.sandboxes.size).toBe(0);
  });

  test("a Get of a cached sandbox makes no request at all", async () => {
    fleet(50);
    fake.api.put(sandboxCr({ id: "sb-1", name: "demo" }));
    const driver = await syncedDriver();
    const mark = fake.api.requests.length;
    expect((await driver.get("sb-1")).id).toBe("sb-1");
    expect(fake.api.requestsSince(mark)).toEqual({ LIST: 0, GET: 0, PATCH: 0, DELETE: 0, POST: 0 });
  });
});

describe("an id the cache does not hold costs one read from the API server's watch cache", () => {
  test("a Get miss is NOT_FOUND after one LIST of that id, read no older than what the cache has seen", async () => {
    fleet(50);
    const driver = await syncedDriver();
    const mark = fake.api.requests.length;
    expect((await rejection(driver.get("sb-unknown"))).code).toBe("NotFound");
    expect(fake.api.requestsSince(mark)).toEqual({ LIST: 1, GET: 0, PATCH: 0, DELETE: 0, POST: 0 });
    const read = new URL(fake.api.requests.at(-1)!.split(" ")[1]!, "http://x").searchParams;
    expect(read.get("labelSelector")).toContain("openshell.ai/sandbox-id=sb-unknown");
    expect(read.get("resourceVersionMatch")).toBe("NotOlderThan");
    expect(Number(read.get("resourceVersion"))).toBeGreaterThan(0);
  });

  test("Stop and Start of an unknown id are NOT_FOUND, and Delete answers not deleted, each after one LIST and no write", async () => {
    const driver = await syncedDriver();
    for (const [call, expected] of [
      [() => rejection(driver.stopSandbox("sb-unknown", AbortSignal.timeout(5000))).then((e) => e.code), "NotFound"],
      [() => rejection(driver.startSandbox("sb-unknown")).then((e) => e.code), "NotFound"],
      [() => driver.deleteSandbox("sb-unknown"), false],
    ] as const) {
      const mark = fake.api.requests.length;
      expect(await call()).toBe(expected);
      expect(fake.api.requestsSince(mark)).toEqual({ LIST: 1, GET: 0, PATCH: 0, DELETE: 0, POST: 0 });
    }
  });

  test("a watch cache that has not caught up within the API server's wait answers 504, and the miss is read consistently instead", async () => {
    fake.api.put(sandboxCr({ id: "sb-1", name: "demo" }));
    const driver = await syncedDriver();
    fake.api.holdSandboxWatch(true);
    fake.api.sandboxes.clear();
    fake.api.fail = (r) => (r.resourceVersionMatch === "NotOlderThan" ? { code: 504, message: "Timeout: Too large resource version: 120, current: 101" } : undefined);
    const stored = fake.api.put(sandboxCr({ id: "sb-2", name: "later" }));
    const mark = fake.api.requests.length;
    expect((await driver.get("sb-2")).id).toBe("sb-2");
    expect(fake.api.requestsSince(mark)).toEqual({ LIST: 2, GET: 0, PATCH: 0, DELETE: 0, POST: 0 });
    expect(stored.metadata.name).toBe("alice--later");
    fake.api.holdSandboxWatch(false);
  });

  test("a Get right after this driver's Create, before the watch delivers it, reads no older than the create", async () => {
    const driver = await syncedDriver();
    fake.api.holdSandboxWatch(true);
    await driver.create(makeSandbox({ id: "sb-new", name: "fresh" }));
    const created = fake.api.sandboxes.get("openshell/alice--fresh")!;
    const got = await driver.get("sb-new");
    expect(got.id).toBe("sb-new");
    const read = new URL(fake.api.requests.at(-1)!.split(" ")[1]!, "http://x").searchParams;
    expect(read.get("resourceVersion")).toBe(created.metadata.resourceVersion as string);
    fake.api.holdSandboxWatch(false);
  });
});

describe("misses that arrive together are confirmed together", () => {
  const listsSince = (mark: number) => fake.api.requests.slice(mark).filter((r) => r.startsWith("GET ") && r.includes("/sandboxes?") && !r.includes("watch=1"));
  const selectorOf = (request: string) => new URL(request.split(" ")[1]!, "http://x").searchParams.get("labelSelector")!;

  test("16 Get misses at once cost two LISTs, not 16: the first at once, the other 15 together in one `in` selector", async () => {
    fleet(50);
    const driver = await syncedDriver();
    const mark = fake.api.requests.length;
    const ids = Array.from({ length: 16 }, (_, i) => `sb-missing-${i}`);
    const codes = await Promise.all(ids.map((id) => rejection(driver.get(id)).then((e) => e.code)));
    expect(codes).toEqual(ids.map(() => "NotFound"));
    const lists = listsSince(mark);
    expect(lists).toHaveLength(2);
    expect(selectorOf(lists[0]!)).toContain("openshell.ai/sandbox-id=sb-missing-0");
    expect(selectorOf(lists[1]!)).toContain(`openshell.ai/sandbox-id in (${ids.slice(1).join(",")})`);
    expect(new URL(lists[1]!.split(" ")[1]!, "http://x").searchParams.get("resourceVersionMatch")).toBe("NotOlderThan");
  });

  test("in a batch of misses, a sandbox another writer made that the watch has not delivered is found, and only it", async () => {
    const driver = await syncedDriver();
    fake.api.holdSandboxWatch(true);
    fake.api.put(sandboxCr({ id: "sb-elsewhere", name: "elsewhere" }));
    const ids = ["sb-gone-1", "sb-gone-2", "sb-elsewhere", "sb-gone-3"];
    const mark = fake.api.requests.length;
    const answers = await Promise.all(ids.map((id) => driver.get(id).then((s) => s.id, (e: { code?: string }) => e.code)));
    expect(answers).toEqual(["NotFound", "NotFound", "sb-elsewhere", "NotFound"]);
    expect(listsSince(mark).map(selectorOf).map((s) => s.split(",openshell.ai/sandbox-id")[1])).toEqual(["=sb-gone-1", " in (sb-gone-2,sb-elsewhere,sb-gone-3)"]);
    fake.api.holdSandboxWatch(false);
  });

  test("the selector of several ids refuses any id that is not a label value, so no id can widen what a batch matches", () => {
    expect(sandboxesSelector("gw", ["sb-1"])).toBe(sandboxSelector("gw", "sb-1"));
    expect(sandboxesSelector("gw", ["sb-1", "sb-2"])).toBe("openshell.ai/managed-by=openshell,openshell.ai/gateway-id=gw,openshell.ai/sandbox-id in (sb-1,sb-2)");
    for (const hostile of ["sb-1,sb-2", "sb-1)", "x),openshell.ai/sandbox-name in (y", "a b", "!x"]) {
      expect(() => sandboxesSelector("gw", ["sb-ok", hostile])).toThrow(/sandbox_id/);
    }
  });

  test("a batch's failed read answers UNAVAILABLE to every Get in it, and the next miss is read afresh", async () => {
    const driver = await syncedDriver();
    fake.api.fail = (r) => (r.resourceVersionMatch === "NotOlderThan" ? { code: 500, message: "etcd is down" } : undefined);
    const codes = await Promise.all(["sb-a", "sb-b", "sb-c"].map((id) => rejection(driver.get(id)).then((e) => e.code)));
    expect(codes).toEqual(["Unavailable", "Unavailable", "Unavailable"]);
    fake.api.fail = () => undefined;
    expect((await rejection(driver.get("sb-d"))).code).toBe("NotFound");
  });
});

describe("a cache that is behind never lands a write on the wrong sandbox", () => {
  test("Stop of a sandbox whose name now holds another sandbox patches nothing and is NOT_FOUND after one live lookup", async () => {
    fake.api.put(sandboxCr({ id: "sb-old", name: "demo" }));
    const driver = await syncedDriver();
    fake.api.holdSandboxWatch(true);
    fake.api.sandboxes.delete("openshell/alice--demo");
    const other = fake.api.put(sandboxCr({ id: "sb-new", name: "demo" }));
    const mark = fake.api.requests.length;
    expect((await rejection(driver.stopSandbox("sb-old", AbortSignal.timeout(5000)))).code).toBe("NotFound");
    expect(fake.api.requestsSince(mark)).toEqual({ LIST: 1, GET: 0, PATCH: 1, DELETE: 0, POST: 0 });
    expect(fake.api.sandboxes.get("openshell/alice--demo")).toEqual(other);
    fake.api.holdSandboxWatch(false);
  });

  test("Delete of a sandbox deleted and made again under its name deletes the new CR after one live lookup", async () => {
    fake.api.put(sandboxCr({ id: "sb-1", name: "demo" }));
    const driver = await syncedDriver();
    fake.api.holdSandboxWatch(true);
    fake.api.sandboxes.delete("openshell/alice--demo");
    const again = fake.api.put(sandboxCr({ id: "sb-1", name: "demo" }));
    const mark = fake.api.requests.length;
    expect(await driver.deleteSandbox("sb-1")).toBe(true);
    expect(fake.api.requestsSince(mark)).toEqual({ LIST: 1, GET: 0, PATCH: 0, DELETE: 2, POST: 0 });
    const deletes = writesTo("/sandboxes/alice--demo").filter((r) => r.startsWith("DELETE"));
    expect(deletes).toHaveLength(2);
    expect(fake.api.sandboxes.has("openshell/alice--demo")).toBe(false);
    expect(again.metadata.uid).toBeDefined();
    fake.api.holdSandboxWatch(false);
  });

  test("Start of a sandbox already deleted, which the cache still holds, is NOT_FOUND after one live lookup", async () => {
    fake.api.put(sandboxCr({ id: "sb-1", name: "demo" }));
    const driver = await syncedDriver();
    fake.api.holdSandboxWatch(true);
    fake.api.sandboxes.delete("openshell/alice--demo");
    expect((await rejection(driver.startSandbox("sb-1"))).code).toBe("NotFound");
    fake.api.holdSandboxWatch(false);
  });

  test("while the sandbox watch is failing, writes look the id up with a consistent LIST first", async () => {
    fake.api.put(sandboxCr({ id: "sb-1", name: "demo" }));
    const driver = await syncedDriver();
    fake.api.fail = (r) => (r.resource === "sandboxes" && r.watch ? 500 : undefined);
    fake.api.closeWatches();
    await eventually("the watch failing", () => driver.cache.problem());
    const mark = fake.api.requests.length;
    await driver.startSandbox("sb-1");
    const counts = fake.api.requestsSince(mark);
    expect({ LIST: counts.LIST, PATCH: counts.PATCH }).toEqual({ LIST: 1, PATCH: 1 });
    const list = fake.api.requests.slice(mark).find((r) => r.startsWith("GET ") && r.includes("sandbox-id%3Dsb-1"))!;
    expect(new URL(list.split(" ")[1]!, "http://x").searchParams.has("resourceVersion")).toBe(false);
  });
});
