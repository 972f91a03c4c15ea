// The short-lived memory of API answers that spares a burst of creates one read each.
import { describe, expect, test } from "bun:test";
import { RecentAnswers } from "../../src/kube/recent-answers";

function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe("recent answers", () => {
  test("an answer is reused until it is older than its time to live, then asked again", async () => {
    const time = clock();
    const recent = new RecentAnswers<string>(1000, time.now);
    let asked = 0;
    const ask = async () => `answer ${++asked}`;
    expect(await recent.get("ns", ask)).toBe("answer 1");
    time.advance(999);
    expect(await recent.get("ns", ask)).toBe("answer 1");
    time.advance(1);
    expect(await recent.get("ns", ask)).toBe("answer 2");
  });

  test("a failed ask is not remembered: the next call asks again", async () => {
    const recent = new RecentAnswers<string>(1000, clock().now);
    await expect(recent.get("ns", () => Promise.reject(new Error("404")))).rejects.toThrow("404");
    expect(await recent.get("ns", async () => "found")).toBe("found");
  });

  test("a forgotten answer is asked again at once; other keys keep theirs", async () => {
    const recent = new RecentAnswers<string>(1000, clock().now);
    await recent.get("a", async () => "a1");
    await recent.get("b", async () => "b1");
    recent.forget("a");
    expect(await recent.get("a", async () => "a2")).toBe("a2");
    expect(await recent.get("b", async () => "b2")).toBe("b1");
  });
});
