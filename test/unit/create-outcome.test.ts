// CreateSandbox's answers under faults and conflicts, through the driver's own Kubernetes client
// against an in-memory API server over HTTP: a write whose reply was lost, one id under two names,
// a create racing a delete, what Validate refuses, and ids that would change a label selector.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { SandboxDriver } from "../../src/driver/driver";
import { DriverError, type DriverErrorCode } from "../../src/driver/errors";
import { SandboxRequestError } from "../../src/sandbox";
import { FakeSandboxApi, sandboxCr } from "./fake-sandbox-api";
import { makeSandbox, makeSettings, keptPodFeatures } from "./fixtures";
import { plainKubernetes } from "./platform-fixtures";

/** The kube client's per-call deadline here: long enough for a loaded machine, short enough to wait out. */
const KUBE_TIMEOUT_MS = 2000;

let api: FakeSandboxApi;
let driver: SandboxDriver;

beforeEach(async () => {
  api = new FakeSandboxApi();
  await api.start();
  driver = new SandboxDriver({ client: api.client(KUBE_TIMEOUT_MS), settings: makeSettings(), platform: plainKubernetes(), podFeatures: keptPodFeatures(), stopTimeoutMs: 5000 });
});

afterEach(async () => {
  await api.close();
});

async function failure(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => new Error("the call succeeded"),
    (err: unknown) => err,
  );
}

async function driverError(call: Promise<unknown>, code: DriverErrorCode): Promise<DriverError> {
  const err = await failure(call);
  expect(err).toBeInstanceOf(DriverError);
  expect((err as DriverError).code).toBe(code);
  return err as DriverError;
}

const sandbox = (id = "sb-1", name = "demo") => makeSandbox({ id, name });

describe("a create whose reply is lost", () => {
  test("answers OK when the API server committed it and then the connection dropped", async () => {
    api.nextCreate.push("commit-then-drop");
    await driver.create(sandbox());
    expect([...api.sandboxes.keys()]).toEqual(["openshell/alice--demo"]);
  });

  test("answers OK when the API server committed it and the reply never came before the kube timeout", async () => {
    api.nextCreate.push("commit-then-hang");
    await driver.create(sandbox());
    expect([...api.sandboxes.keys()]).toEqual(["openshell/alice--demo"]);
  });

  test("answers DEADLINE_EXCEEDED 'outcome unknown', never UNAVAILABLE, when nothing is there yet", async () => {
    api.nextCreate.push("hang");
    const err = await driverError(driver.create(sandbox()), "DeadlineExceeded");
    expect(err.message).toContain("outcome unknown");
    expect(err.message).toContain("safe to retry");
  });

  test("answers DEADLINE_EXCEEDED 'outcome unknown', not CANCELLED, when the driver shuts down while the create is under way", async () => {
    const stop = new AbortController();
    const stopping = new SandboxDriver({ client: api.client(KUBE_TIMEOUT_MS, stop.signal), settings: makeSettings(), platform: plainKubernetes(), podFeatures: keptPodFeatures(), stopTimeoutMs: 5000 });
    api.nextCreate.push("commit-then-hang");
    const create = stopping.create(sandbox());
    // Stop once the API server has the write (and holds back its reply).
    while (api.sandboxes.size === 0) await Bun.sleep(10);
    stop.abort();
    const err = await driverError(create, "DeadlineExceeded");
    expect(err.message).toContain("outcome unknown");
  });

  test("answers ALREADY_EXISTS when the name turns out to hold another sandbox id", async () => {
    api.nextCreate.push("hang");
    const create = driver.create(sandbox("sb-1"));
    // Someone else's sandbox took the name while our create hung.
    api.put(sandboxCr({ id: "sb-other", name: "demo" }));
    await driverError(create, "AlreadyExists");
  });
});

describe("one id, one sandbox", () => {
  test("a create with an id another sandbox already carries is ALREADY_EXISTS naming that sandbox, and writes nothing", async () => {
    api.put(sandboxCr({ id: "sb-1", name: "first" }));
    const err = await driverError(driver.create(sandbox("sb-1", "second")), "AlreadyExists");
    expect(err.message).toContain('"first"');
    expect(err.message).toContain("alice--first");
    expect(api.posts()).toEqual([]);
  });

  test("repeating a create of the same sandbox is OK and writes nothing more", async () => {
    await driver.create(sandbox());
    await driver.create(sandbox());
    expect(api.posts()).toHaveLength(1);
  });

  test("concurrent creates of one id under two names leave one sandbox and refuse the other", async () => {
    const results = await Promise.allSettled([driver.create(sandbox("sb-1", "one")), driver.create(sandbox("sb-1", "two"))]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected"]);
    expect((results[1] as PromiseRejectedResult).reason.code).toBe("AlreadyExists");
    expect(api.sandboxes.size).toBe(1);
  });

  test("a create of an id whose sandbox is being deleted is ABORTED 'being deleted', not a different sandbox id", async () => {
    api.put(sandboxCr({ id: "sb-1", name: "demo", deleting: true }));
    const err = await driverError(driver.create(sandbox()), "Aborted");
    expect(err.message).toContain("being deleted");
    expect(err.message).not.toContain("different sandbox id");
  });

  test("a create whose name was freed by a delete finishing in between is tried again and succeeds", async () => {
    api.nextCreate.push("conflict-then-gone");
    await driver.create(sandbox());
    expect(api.posts()).toHaveLength(2);
    expect([...api.sandboxes.keys()]).toEqual(["openshell/alice--demo"]);
  });

  test("a create whose name keeps being taken and freed gives up ABORTED with a retry hint, not 'a different sandbox id'", async () => {
    api.nextCreate.push("conflict-then-gone", "conflict-then-gone", "conflict-then-gone");
    const err = await driverError(driver.create(sandbox()), "Aborted");
    expect(err.message).toContain("retry");
    expect(err.message).not.toContain("different sandbox id");
  });

  test("a create whose name holds another sandbox id is ALREADY_EXISTS", async () => {
    api.put(sandboxCr({ id: "sb-other", name: "demo" }));
    const err = await driverError(driver.create(sandbox("sb-1")), "AlreadyExists");
    expect(err.message).toContain("different sandbox id");
  });
});

describe("Create refuses whatever Validate refuses, with the same answer and without writing", () => {
  const refused: [string, () => ReturnType<typeof makeSandbox>][] = [
    ["a GPU count no node can satisfy", () => makeSandbox({ spec: { resourceRequirements: { gpu: { count: 4294967295 } } } })],
    ["a runtime class that does not exist", () => makeSandbox({ spec: { template: { platformConfig: { runtime_class_name: "missing" } } } })],
    ["an environment too large to start a process with", () => makeSandbox({ spec: { environment: { BIG: "x".repeat(200 * 1024) } } })],
  ];
  for (const [what, request] of refused) {
    test(what, async () => {
      const fromValidate = await failure(driver.validate(request()));
      const fromCreate = await failure(driver.create(request()));
      expect(fromValidate).toBeInstanceOf(SandboxRequestError);
      expect(fromCreate).toEqual(fromValidate);
      expect((fromCreate as Error).message).toBe((fromValidate as Error).message);
      expect(api.posts()).toEqual([]);
    });
  }
});

describe("ids that are not label values", () => {
  const injected = "sb-1,openshell.ai/sandbox-name";

  test("are refused on Get, Stop, Start and Delete as INVALID_ARGUMENT naming sandbox_id, without asking the API server", async () => {
    api.put(sandboxCr({ id: "sb-1", name: "demo" }));
    const before = api.requests.length;
    for (const call of [
      driver.get(injected),
      driver.stopSandbox(injected, new AbortController().signal),
      driver.startSandbox(injected),
      driver.deleteSandbox(injected),
    ]) {
      const err = await failure(call);
      expect(err).toBeInstanceOf(SandboxRequestError);
      expect((err as SandboxRequestError).code).toBe("InvalidArgument");
      expect((err as SandboxRequestError).field).toBe("sandbox_id");
    }
    expect(api.requests.slice(before)).toEqual([]);
    expect(api.sandboxes.get("openshell/alice--demo")?.metadata.deletionTimestamp).toBeUndefined();
  });

  test("are refused on Create as INVALID_ARGUMENT naming sandbox.id, and nothing is created", async () => {
    const err = await failure(driver.create(sandbox(injected)));
    expect((err as SandboxRequestError).field).toBe("sandbox.id");
    expect(api.requests).toEqual([]);
  });
});

describe("creates once the cache is synced", () => {
  /** A live lookup of one id: the gateway selector plus the id term. */
  const idLookups = () => api.requests.filter((r) => r.startsWith("GET ") && r.includes("sandbox-id"));
  const namespaceReads = () => api.requests.filter((r) => /^GET \/api\/v1\/namespaces\/openshell(\?|$)/.test(r));

  async function syncedDriver(): Promise<SandboxDriver> {
    const synced = new SandboxDriver({ client: api.client(KUBE_TIMEOUT_MS), settings: makeSettings(), platform: plainKubernetes(), podFeatures: keptPodFeatures(), stopTimeoutMs: 5000 });
    synced.start();
    await synced.cache.waitForSync();
    return synced;
  }

  test("a burst of new sandboxes costs one POST and one look for a predecessor's workspace claim each: no id lookup, and the namespace is read once", async () => {
    const synced = await syncedDriver();
    try {
      const before = api.requests.length;
      for (const n of [1, 2, 3]) await synced.create(sandbox(`sb-${n}`, `demo-${n}`));
      expect(api.posts()).toHaveLength(3);
      expect(idLookups()).toEqual([]);
      expect(namespaceReads()).toHaveLength(1);
      expect(api.requests.slice(before).filter((r) => r.includes("/persistentvolumeclaims/workspace-"))).toHaveLength(3);
      expect(api.requests.slice(before).filter((r) => !r.includes("watch=1"))).toHaveLength(7);
    } finally {
      await synced.stop();
    }
  });

  test("an id the cache holds under another name is still ALREADY_EXISTS, confirmed by reading that CR by name, not by a list", async () => {
    api.put(sandboxCr({ id: "sb-1", name: "first" }));
    const synced = await syncedDriver();
    try {
      expect(synced.cache.get("sb-1")).toBeDefined();
      const err = await driverError(synced.create(sandbox("sb-1", "second")), "AlreadyExists");
      expect(err.message).toContain('"first"');
      expect(idLookups()).toEqual([]);
      expect(api.requests.filter((r) => r.startsWith("GET ") && r.includes("/sandboxes/alice--first"))).toHaveLength(1);
      expect(api.posts()).toEqual([]);
    } finally {
      await synced.stop();
    }
  });

  test("an id the cache holds under another name that was deleted meanwhile is looked up live, and the create goes ahead", async () => {
    api.put(sandboxCr({ id: "sb-1", name: "first" }));
    const synced = await syncedDriver();
    try {
      api.holdSandboxWatch(true);
      api.sandboxes.delete("openshell/alice--first");
      await synced.create(sandbox("sb-1", "second"));
      expect(idLookups()).toHaveLength(1);
      expect(api.posts()).toHaveLength(1);
      api.holdSandboxWatch(false);
    } finally {
      await synced.stop();
    }
  });
});
