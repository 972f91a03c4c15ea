import { describe, expect, test } from "bun:test";
import type { CoreV1Event } from "@kubernetes/client-node";
import { platformEventFor } from "../../src/sandbox";

const index = {
  sandboxIdByCrName: new Map([["alice--demo", "sb-1"]]),
  sandboxIdByPodName: new Map([["warm-pod-3", "sb-2"]]),
};

function event(kind: string, name: string, reason: string, message = "", extra: Partial<CoreV1Event> = {}): CoreV1Event {
  return {
    metadata: { name: `${name}.17a`, namespace: "openshell" },
    involvedObject: { kind, name, namespace: "openshell" },
    reason,
    message,
    type: "Normal",
    ...extra,
  };
}

describe("platformEventFor", () => {
  test("a Sandbox event is matched to its sandbox by CR name", () => {
    const out = platformEventFor(event("Sandbox", "alice--demo", "Created", "created pod", { count: 2 }), index);
    expect(out?.sandboxId).toBe("sb-1");
    expect(out?.event.source).toBe("kubernetes");
    expect(out?.event.type).toBe("Normal");
    expect(out?.event.reason).toBe("Created");
    expect(out?.event.message).toBe("created pod");
    expect(out?.event.metadata).toEqual({
      involved_kind: "Sandbox",
      involved_name: "alice--demo",
      namespace: "openshell",
      count: "2",
    });
  });

  test("a Pod event is matched by pod name, also when the pod is named after the CR", () => {
    expect(platformEventFor(event("Pod", "warm-pod-3", "Started"), index)?.sandboxId).toBe("sb-2");
    expect(platformEventFor(event("Pod", "alice--demo", "Started"), index)?.sandboxId).toBe("sb-1");
  });

  test("events about other kinds or unknown objects are dropped", () => {
    expect(platformEventFor(event("Service", "alice--demo", "Created"), index)).toBeUndefined();
    expect(platformEventFor(event("PersistentVolumeClaim", "alice--demo", "Provisioned"), index)).toBeUndefined();
    expect(platformEventFor(event("Pod", "someone-else", "Started"), index)).toBeUndefined();
  });

  test("the timestamp prefers lastTimestamp, then eventTime, then firstTimestamp, as Date or string", () => {
    const ts = (extra: Record<string, unknown>) =>
      platformEventFor(event("Pod", "alice--demo", "Started", "", extra as Partial<CoreV1Event>), index)?.event.timestampMs;
    expect(ts({ lastTimestamp: new Date("2026-08-21T10:00:05Z"), firstTimestamp: new Date("2026-08-21T10:00:00Z") })).toBe(
      BigInt(Date.parse("2026-08-21T10:00:05Z")),
    );
    expect(ts({ eventTime: "2026-08-21T10:00:03.250000Z", firstTimestamp: "2026-08-21T10:00:00Z" })).toBe(
      BigInt(Date.parse("2026-08-21T10:00:03.250Z")),
    );
    expect(ts({ firstTimestamp: "2026-08-21T10:00:00Z" })).toBe(BigInt(Date.parse("2026-08-21T10:00:00Z")));
    expect(ts({})).toBe(0n);
  });

  test("Scheduled completes the request step and starts image pulling", () => {
    const md = platformEventFor(event("Pod", "alice--demo", "Scheduled", "Successfully assigned"), index)?.event.metadata;
    expect(md).toMatchObject({
      "openshell.progress.complete_step": "requesting_sandbox",
      "openshell.progress.complete_label": "Sandbox allocated",
      "openshell.progress.active_step": "pulling_image",
    });
  });

  test("Pulling shows which image is being pulled", () => {
    const md = platformEventFor(event("Pod", "alice--demo", "Pulling", 'Pulling image "python:3.12"'), index)?.event.metadata;
    expect(md?.["openshell.progress.active_step"]).toBe("pulling_image");
    expect(md?.["openshell.progress.active_detail"]).toBe("python:3.12");
  });

  test("Pulled completes image pulling with the size when kubelet reports one, and starts the sandbox", () => {
    const sized = platformEventFor(
      event("Pod", "alice--demo", "Pulled", 'Successfully pulled image "python:3.12" in 3.2s (3.2s including waiting). Image size: 45200000 bytes.'),
      index,
    )?.event.metadata;
    expect(sized).toMatchObject({
      "openshell.progress.complete_step": "pulling_image",
      "openshell.progress.complete_label": "Image pulled (45.2 MB)",
      "openshell.progress.active_step": "starting_sandbox",
    });
    const cached = platformEventFor(event("Pod", "alice--demo", "Pulled", 'Container image "python:3.12" already present on machine'), index)
      ?.event.metadata;
    expect(cached?.["openshell.progress.complete_label"]).toBe("Image pulled");
  });

  test("other reasons carry no progress metadata", () => {
    const md = platformEventFor(event("Pod", "alice--demo", "BackOff", "Back-off restarting"), index)?.event.metadata ?? {};
    expect(Object.keys(md).filter((k) => k.startsWith("openshell.progress."))).toEqual([]);
  });
});
