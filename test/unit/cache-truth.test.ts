// GetSandbox never says NOT_FOUND for a sandbox that exists, whatever state the watch is in, and
// Events are an add-on that cannot hold anything up. The driver's own Kubernetes client and
// informers run against an in-memory API server over HTTP (fake-sandbox-api.ts).
import { describe, expect, test } from "bun:test";
import { sandboxCr, type FakeRequest } from "./fake-sandbox-api";
import { driverRejection as rejection, driversOnFakeApi, eventually } from "./driver-on-fake-api";

const fake = driversOnFakeApi();

/** The informers' list+watch carries the gateway selector only; a lookup of one id adds the id term. */
const isInformer = (r: FakeRequest) => r.resource === "sandboxes" && r.method === "GET" && !r.labelSelector.includes("sandbox-id");

describe("GetSandbox confirms a cache miss with the API server", () => {
  test("a sandbox the watch has not delivered yet is answered from the API server, and the cache catches up", async () => {
    const driver = fake.startDriver();
    await driver.cache.waitForSync();
    fake.api.holdSandboxWatch(true);
    fake.api.put(sandboxCr({ id: "sb-1", name: "demo" }));

    const got = await driver.get("sb-1");
    expect({ id: got.id, name: got.name, workspace: got.workspace }).toEqual({ id: "sb-1", name: "demo", workspace: "alice" });
    expect(driver.cache.get("sb-1")).toBeUndefined();

    fake.api.holdSandboxWatch(false);
    await eventually("the sandbox in the cache", () => driver.cache.get("sb-1"));
  });

  test("an id the API server does not have either is NOT_FOUND", async () => {
    const driver = fake.startDriver();
    await driver.cache.waitForSync();
    expect((await rejection(driver.get("sb-unknown"))).code).toBe("NotFound");
    expect(fake.api.requests.some((r) => r.includes("sandbox-id%3Dsb-unknown"))).toBe(true);
  });

  test("while the sandbox watch is failing, a sandbox created meanwhile is still found", async () => {
    const driver = fake.startDriver();
    await driver.cache.waitForSync();
    fake.api.fail = (r) => (isInformer(r) && r.watch ? 500 : undefined);
    fake.api.closeWatches();
    await eventually("the watch failing", () => driver.cache.problem());
    fake.api.put(sandboxCr({ id: "sb-2", name: "later" }));
    expect((await driver.get("sb-2")).id).toBe("sb-2");
  });

  test("before the sandbox list ever succeeded, Get answers from the API server, and List is UNAVAILABLE when it cannot ask either", async () => {
    fake.api.fail = (r) => (isInformer(r) ? 503 : undefined);
    fake.api.put(sandboxCr({ id: "sb-1", name: "demo" }));
    const driver = fake.startDriver();
    expect((await driver.get("sb-1")).id).toBe("sb-1");
    expect((await rejection(Promise.resolve().then(() => driver.list()))).code).toBe("Unavailable");
  });

  test("when the API server cannot be asked either, Get is UNAVAILABLE, never NOT_FOUND", async () => {
    fake.api.fail = (r) => (r.resource === "sandboxes" ? 503 : undefined);
    const driver = fake.startDriver();
    const err = await rejection(driver.get("sb-1"));
    expect(err.code).toBe("Unavailable");
    expect(err.message).toContain("sb-1");
  });
});

describe("Events are an add-on", () => {
  test("without access to Events, Get, List and Watch are served and the cache is healthy", async () => {
    fake.api.fail = (r) => (r.resource === "events" ? 403 : undefined);
    fake.api.put(sandboxCr({ id: "sb-1", name: "demo" }));
    const driver = fake.startDriver();
    await driver.cache.waitForSync();

    expect((await driver.list()).map((s) => s.id)).toEqual(["sb-1"]);
    expect((await driver.get("sb-1")).id).toBe("sb-1");
    const abort = new AbortController();
    const stream = driver.watch(abort.signal, "json");
    const first = await stream.next();
    abort.abort();
    expect(first.value?.payload.case).toBe("sandbox");

    expect(driver.cache.problem()).toBeUndefined();
    const eventsProblem = await eventually("the events failure reported", () => driver.cache.eventsProblem());
    expect(eventsProblem).toContain("events");
    expect(eventsProblem).toContain("forbidden");
  });
});
