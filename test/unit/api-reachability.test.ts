// /readyz's view of the Kubernetes API comes from a background check: reading it never waits.
import { afterEach, describe, expect, test } from "bun:test";
import { ApiReachability } from "../../src/server/api-reachability";
import { eventually } from "../support/cluster";

const running: ApiReachability[] = [];
afterEach(() => {
  for (const probe of running.splice(0)) probe.stop();
});

function probe(check: () => Promise<unknown>, now?: () => number): ApiReachability {
  const reachability = new ApiReachability(check, { intervalMs: 5, stalledAfterMs: 5000, now });
  running.push(reachability);
  reachability.start();
  return reachability;
}

describe("Kubernetes API reachability", () => {
  test("is a problem until the first answer, and clear once the API answers", async () => {
    let answer!: () => void;
    const reachability = probe(() => new Promise<void>((resolve) => (answer = resolve)));
    expect(reachability.problem()).toBe("the Kubernetes API has not answered yet");
    answer();
    await eventually("the answer to be recorded", () => (reachability.problem() === undefined ? true : undefined));
  });

  test("a failing API is reported with its error, and recovery clears it without a restart", async () => {
    let failing = true;
    const reachability = probe(async () => {
      if (failing) throw new Error("connect ECONNREFUSED 127.0.0.1:6443");
    });
    const failure = () => (reachability.problem()?.includes("unreachable") ? reachability.problem() : undefined);
    expect(await eventually("the failure", failure)).toBe(
      "the Kubernetes API is unreachable: connect ECONNREFUSED 127.0.0.1:6443",
    );
    failing = false;
    await eventually("recovery", () => (reachability.problem() === undefined ? true : undefined));
  });

  test("an API that stops answering is reported while the check still waits, before any timeout", async () => {
    let clock = 0;
    let calls = 0;
    const reachability = probe(
      () => (++calls === 1 ? Promise.resolve() : new Promise(() => undefined)),
      () => clock,
    );
    await eventually("the second check to be waiting", () => (calls === 2 ? true : undefined));
    expect(reachability.problem()).toBeUndefined();
    clock += 5001;
    expect(reachability.problem()).toBe("the Kubernetes API has not answered for 5 s");
  });
});
