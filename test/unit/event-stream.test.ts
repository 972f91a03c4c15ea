// One namespace's Events as a stream that keeps none of them: what it passes on from lists and
// watches, how it gets past expired history (410), and how it reports a failure and its end.
import { afterEach, describe, expect, test } from "bun:test";
import type { CoreV1Event } from "@kubernetes/client-node";
import { EventStream } from "../../src/driver/event-stream";
import { KubeApiError, type KubeClient, type KubeRequest, type WatchEvent, type WatchRequest } from "../../src/kube";
import { eventually as eventuallyEvery } from "../support/cluster";

/** Polls the in-process fake every 5 ms, for up to 10000 ms. */
const eventually = <T>(what: string, check: () => T | undefined) => eventuallyEvery(what, check, 10000, 5);

type Step = WatchEvent<object> | "fail";

/** Lists answer `listed`; each watch plays the next script (then stays open), or fails with 403 while `refuse` is set. */
class FakeEvents {
  listed: object[] = [];
  refuse = false;
  readonly lists: KubeRequest[] = [];
  readonly watchesFrom: (string | undefined)[] = [];
  readonly scripts: Step[][] = [];

  client(): KubeClient {
    return {
      observer: undefined,
      request: async (req: KubeRequest) => {
        this.lists.push(req);
        if (this.refuse) throw forbidden();
        return { metadata: { resourceVersion: "10" }, items: this.listed };
      },
      watch: (req: WatchRequest) => this.#watch(req),
    } as unknown as KubeClient;
  }

  async *#watch(req: WatchRequest): AsyncGenerator<WatchEvent<object>> {
    this.watchesFrom.push(req.query.resourceVersion as string | undefined);
    if (this.refuse) throw forbidden();
    req.onOpen?.();
    for (const step of this.scripts.shift() ?? []) {
      if (step === "fail") throw new KubeApiError({ status: 0, reason: "NetworkError", verb: "watch", resource: "events", detail: "connection reset" });
      yield step;
    }
    await new Promise<void>((resolve) => req.signal.addEventListener("abort", () => resolve(), { once: true }));
  }
}

function forbidden(): KubeApiError {
  return new KubeApiError({ status: 403, reason: "Forbidden", verb: "list", resource: "events", detail: "events is forbidden" });
}

function kubeEvent(name: string, rv: string): CoreV1Event {
  return { metadata: { name, namespace: "ns", resourceVersion: rv }, involvedObject: { kind: "Pod", name: "box" }, reason: name } as CoreV1Event;
}

const streams: EventStream[] = [];
afterEach(async () => {
  for (const s of streams.splice(0)) await s.stop();
});

function startStream(fake: FakeEvents, catchUp: boolean) {
  const seen: string[] = [];
  const stream = new EventStream({
    client: fake.client(),
    namespace: "ns",
    catchUp,
    onEvent: (ev, catchingUp) => seen.push(`${ev.reason}${catchingUp ? " (catching up)" : ""}`),
    backoff: { initialMs: 5, maxMs: 20 },
  });
  streams.push(stream);
  stream.start();
  return { stream, seen };
}

describe("a namespace's event stream", () => {
  test("the first list is history unless the stream catches up; watched events are passed on live", async () => {
    for (const catchUp of [false, true]) {
      const fake = new FakeEvents();
      fake.listed = [kubeEvent("Scheduled", "9")];
      fake.scripts.push([{ type: "ADDED", object: kubeEvent("Pulling", "11") }]);
      const { seen } = startStream(fake, catchUp);
      await eventually("the live event", () => (seen.includes("Pulling") ? true : undefined));
      expect(seen).toEqual(catchUp ? ["Scheduled (catching up)", "Pulling"] : ["Pulling"]);
    }
  });

  test("after its history expires (410) it watches on from a fresh list without replaying what was listed", async () => {
    const fake = new FakeEvents();
    fake.listed = [kubeEvent("Scheduled", "9")];
    const expired = { type: "ERROR" as const, object: { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" } };
    fake.scripts.push([{ type: "ADDED", object: kubeEvent("Pulling", "11") }, expired], [{ type: "ADDED", object: kubeEvent("Pulled", "12") }]);
    const { seen } = startStream(fake, true);
    await eventually("the event after the relist", () => (seen.includes("Pulled") ? true : undefined));
    expect(seen).toEqual(["Scheduled (catching up)", "Pulling", "Pulled"]);
    expect(fake.lists).toHaveLength(2);
  });

  test("a list made only for its resourceVersion asks for one event; only catching up lists them all", async () => {
    const expired = { type: "ERROR" as const, object: { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" } };
    for (const catchUp of [false, true]) {
      const fake = new FakeEvents();
      fake.scripts.push([expired]);
      startStream(fake, catchUp);
      await eventually("the list after the 410", () => (fake.lists.length === 2 ? true : undefined));
      // limit=1 without resourceVersion=0: older watch caches ignore a limit at resourceVersion 0.
      expect(fake.lists.map((req) => req.query)).toEqual([
        catchUp ? { resourceVersion: "0", continue: undefined } : { limit: 1 },
        { limit: 1 },
      ]);
    }
  });

  test("a broken watch resumes from the last event it saw", async () => {
    const fake = new FakeEvents();
    fake.scripts.push([{ type: "ADDED", object: kubeEvent("Pulling", "11") }, "fail"], [{ type: "ADDED", object: kubeEvent("Pulled", "12") }]);
    const { seen } = startStream(fake, false);
    await eventually("the event after the break", () => (seen.includes("Pulled") ? true : undefined));
    expect(fake.watchesFrom.slice(0, 2)).toEqual(["10", "11"]);
    expect(fake.lists).toHaveLength(1);
  });

  test("stopping it while its first list is under way ends it without opening a watch", async () => {
    const fake = new FakeEvents();
    const { stream } = startStream(fake, false);
    await stream.stop();
    expect(fake.watchesFrom).toEqual([]);
  });

  test("a refused stream reports why, keeps retrying, and reports healthy once a watch is accepted", async () => {
    const fake = new FakeEvents();
    fake.refuse = true;
    const { stream } = startStream(fake, false);
    expect(await eventually("the failure", () => stream.lastError())).toContain("forbidden");
    fake.refuse = false;
    await eventually("healthy again", () => (stream.lastError() === undefined ? true : undefined));
  });
});
