// GetSandbox never says NOT_FOUND for a sandbox that exists, whatever state the watch is in, and
// Events are an add-on that cannot hold anything up. The driver's own Kubernetes client and
// informers run against an in-memory API server over HTTP (fake-sandbox-api.ts).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { SandboxDriver } from "../../src/driver/driver";
import { DriverError } from "../../src/driver/errors";
import { FakeSandboxApi, sandboxCr, type FakeRequest } from "./fake-sandbox-api";
import { makeSettings, keptPodFeatures } from "./fixtures";
import { plainKubernetes } from "./platform-fixtures";
import { eventually as eventuallyEvery } from "../support/cluster";

/** Polls the in-process fake every 10 ms, for up to 20000 ms. */
const eventually = <T>(what: string, check: () => T | undefined) => eventuallyEvery(what, check, 20000, 10);

let api: FakeSandboxApi;
const drivers: SandboxDriver[] = [];

beforeEach(async () => {
  api = new FakeSandboxApi();
  await api.start();
});

afterEach(async () => {
  for (const driver of drivers.splice(0)) await driver.stop();
  await api.close();
});

function startDriver(): SandboxDriver {
  const driver = new SandboxDriver({ client: api.client(5000), settings: makeSettings(), platform: plainKubernetes(), podFeatures: keptPodFeatures(), stopTimeoutMs: 5000 });
  drivers.push(driver);
  driver.start();
  return driver;
}

/** The informers' list+watch carries the gateway selector only; a lookup of one id adds the id term. */
const isInformer = (r: FakeRequest) => r.resource === "sandboxes" && r.method === "GET" && !r.labelSelector.includes("sandbox-id");

async function rejection(call: Promise<unknown>): Promise<DriverError> {
  const err = await call.then(
    () => new Error("the call succeeded"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DriverError);
  return err as DriverError;
}

describe("GetSandbox confirms a cache miss with the API server", () => {
  test("a sandbox the watch has not delivered yet is answered from the API server, and the cache catches up", async () => {
    const driver = startDriver();
    await driver.cache.waitForSync();
    api.holdSandboxWatch(true);
    api.put(sandboxCr({ id: "sb-1", name: "demo" }));

    const got = await driver.get("sb-1");
    expect({ id: got.id, name: got.name, workspace: got.workspace }).toEqual({ id: "sb-1", name: "demo", workspace: "alice" });
    expect(driver.cache.get("sb-1")).toBeUndefined();

    api.holdSandboxWatch(false);
    await eventually("the sandbox in the cache", () => driver.cache.get("sb-1"));
  });

  test("an id the API server does not have either is NOT_FOUND", async () => {
    const driver = startDriver();
    await driver.cache.waitForSync();
    expect((await rejection(driver.get("sb-unknown"))).code).toBe("NotFound");
    expect(api.requests.some((r) => r.includes("sandbox-id%3Dsb-unknown"))).toBe(true);
  });

  test("while the sandbox watch is failing, a sandbox created meanwhile is still found", async () => {
    const driver = startDriver();
    await driver.cache.waitForSync();
    api.fail = (r) => (isInformer(r) && r.watch ? 500 : undefined);
    api.closeWatches();
    await eventually("the watch failing", () => driver.cache.problem());
    api.put(sandboxCr({ id: "sb-2", name: "later" }));
    expect((await driver.get("sb-2")).id).toBe("sb-2");
  });

  test("before the sandbox list ever succeeded, Get answers from the API server, and List is UNAVAILABLE when it cannot ask either", async () => {
    api.fail = (r) => (isInformer(r) ? 503 : undefined);
    api.put(sandboxCr({ id: "sb-1", name: "demo" }));
    const driver = startDriver();
    expect((await driver.get("sb-1")).id).toBe("sb-1");
    expect((await rejection(Promise.resolve().then(() => driver.list()))).code).toBe("Unavailable");
  });

  test("when the API server cannot be asked either, Get is UNAVAILABLE, never NOT_FOUND", async () => {
    api.fail = (r) => (r.resource === "sandboxes" ? 503 : undefined);
    const driver = startDriver();
    const err = await rejection(driver.get("sb-1"));
    expect(err.code).toBe("Unavailable");
    expect(err.message).toContain("sb-1");
  });
});

describe("Events are an add-on", () => {
  test("without access to Events, Get, List and Watch are served and the cache is healthy", async () => {
    api.fail = (r) => (r.resource === "events" ? 403 : undefined);
    api.put(sandboxCr({ id: "sb-1", name: "demo" }));
    const driver = startDriver();
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
