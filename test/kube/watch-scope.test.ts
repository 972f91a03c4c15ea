import { describe, expect, test } from "bun:test";
import { WatchScope } from "../../src/kube/watch-scope";

describe("one watch request's lifetime", () => {
  test("a stream silent for longer than allowed is cut and said to have stalled", async () => {
    const scope = new WatchScope(new AbortController().signal, 20);
    await Bun.sleep(60);
    expect(scope.signal.aborted).toBe(true);
    expect(scope.stalled).toBe(true);
    scope.close();
  });

  test("a stream that keeps delivering is never cut by the watchdog", async () => {
    // Longer in all than the watchdog allows, never that long between two events.
    const scope = new WatchScope(new AbortController().signal, 300);
    for (let i = 0; i < 8; i++) {
      await Bun.sleep(60);
      scope.alive();
    }
    expect(scope.signal.aborted).toBe(false);
    scope.close();
    expect(scope.signal.aborted).toBe(true);
    expect(scope.stalled).toBe(false);
  });

  test("the owner stopping ends the request, and is not a stall", () => {
    const owner = new AbortController();
    const scope = new WatchScope(owner.signal, 60_000);
    owner.abort();
    expect(scope.signal.aborted).toBe(true);
    expect(scope.stalled).toBe(false);
    scope.close();
  });
});
