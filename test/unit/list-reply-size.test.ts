// The size of ListSandboxes replies against the gateway's 4 MiB receive limit: the metric, the
// warning logged once per crossing, and the size of a pre-encoded reply without encoding it again.
import { afterEach, describe, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { consola, type LogObject } from "consola";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EncodedSandboxes } from "../../src/driver/encoded-sandboxes";
import { DriverSandboxSchema, ListSandboxesResponseSchema } from "../../src/gen/compute_driver_pb";
import { observeSandbox } from "../../src/sandbox";
import type { ObservableSandbox } from "../../src/sandbox/observe";
import { startGrpcServer } from "../../src/server/grpc-server";
import { ListReplySize, listReplyBytes } from "../../src/server/list-reply-size";
import { createMetrics } from "../../src/server/metrics";
import { connectClient } from "../support/clients";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function captureLogs(): () => LogObject[] {
  const entries: LogObject[] = [];
  const previous = [...consola.options.reporters];
  const level = consola.level;
  consola.setReporters([{ log: (entry) => void entries.push(entry) }]);
  consola.level = 4;
  cleanups.push(() => {
    consola.setReporters(previous);
    consola.level = level;
  });
  return () => entries;
}

function readySandbox(i: number) {
  return create(DriverSandboxSchema, {
    id: `sb-id-${i}`,
    name: `sb-${i}`,
    namespace: "openshell-system",
    workspace: "ws",
    status: {
      sandboxName: `ws--sb-${i}`,
      instanceId: `ws--sb-${i}`,
      conditions: [{ type: "Ready", status: "True", reason: "DependenciesReady", message: "Pod is Ready; Service Exists", lastTransitionTime: "2026-12-07T16:00:00Z" }],
    },
  });
}

function cacheOf(n: number): EncodedSandboxes {
  const cache = new EncodedSandboxes();
  for (let i = 0; i < n; i++) cache.set(`sb-id-${i}`, readySandbox(i), { namespace: "openshell-system", name: `ws--sb-${i}` });
  return cache;
}

const gaugeValue = async (metrics: ReturnType<typeof createMetrics>) =>
  Number(/^openshell_driver_list_reply_bytes (\S+)$/m.exec(await metrics.registry.metrics())?.[1]);

/**
 * A Ready sandbox as the gateway names it (a UUID id, a two-word name) and as agent-sandbox (v0.5.6, v1.0.1)
 * reports it: Ready, Suspended and PodScheduled, each with its transition time. Its Ready message is
 * "Pod is Ready" for the CRs the driver renders (no Service), "…; Service Exists" when one exists.
 */
function readyCr(i: number, readyMessage: string): ObservableSandbox {
  const name = `sandbox-quiet-${String(i).padStart(5, "0")}`;
  const at = "2026-12-07T16:00:00Z";
  return {
    metadata: {
      name: `default--${name}`,
      namespace: "openshell",
      labels: { "openshell.ai/managed-by": "openshell", "openshell.ai/sandbox-id": `0b7e3f7c-2f4d-4c1e-9a7b-${String(i).padStart(12, "0")}`, "openshell.ai/sandbox-name": name, "openshell.ai/sandbox-workspace": "default" },
      annotations: { "agents.x-k8s.io/pod-name": `default--${name}` },
    },
    status: {
      conditions: [
        { type: "Ready", status: "True", reason: "DependenciesReady", message: readyMessage, lastTransitionTime: at },
        { type: "Suspended", status: "False", reason: "NotSuspended", message: "Sandbox is not suspended", lastTransitionTime: at },
        { type: "PodScheduled", status: "True", reason: "PodScheduled", message: "", lastTransitionTime: at },
      ],
    },
  };
}

/** Bytes a sandbox costs in a List, with the controller's messages as written and as sent now. */
function listBytesPerSandbox(readyMessage: string): { before: number; after: number } {
  const n = 1000;
  const cache = new EncodedSandboxes();
  const verbatim = create(ListSandboxesResponseSchema);
  for (let i = 0; i < n; i++) {
    const cr = readyCr(i, readyMessage);
    const sandbox = observeSandbox(cr, undefined)!;
    cache.set(sandbox.id, sandbox, { namespace: "openshell", name: cr.metadata.name! });
    const asWritten = create(DriverSandboxSchema, sandbox);
    asWritten.status!.conditions = sandbox.status!.conditions.map((c, k) => ({ ...c, message: cr.status!.conditions![k]!.message ?? "" }));
    verbatim.sandboxes.push(asWritten);
  }
  const before = toBinary(ListSandboxesResponseSchema, verbatim).length / n;
  const after = listReplyBytes(cache.listReply("binary")) / n;
  console.log(`[list-bytes] Ready "${readyMessage}": ${before} B a sandbox as written, ${after} B sent; 4 MiB holds ${Math.floor((4 * 2 ** 20) / before)} → ${Math.floor((4 * 2 ** 20) / after)}`);
  return { before, after };
}

describe("ListSandboxes reply size", () => {
  test("a Ready sandbox costs 40 bytes less in a List without the controller's messages that restate their reason (56 with a Service)", () => {
    const plain = listBytesPerSandbox("Pod is Ready");
    expect(plain.before - plain.after).toBe(40);
    const withService = listBytesPerSandbox("Pod is Ready; Service Exists");
    expect(withService.before - withService.after).toBe(56);
    expect(withService.after).toBe(plain.after);
  });

  test("the size of a pre-encoded List is the size of the same List encoded the normal way", () => {
    for (const n of [0, 1, 3, 200]) {
      const cache = cacheOf(n);
      const normal = toBinary(ListSandboxesResponseSchema, cache.listReply("json")).length;
      expect(listReplyBytes(cache.listReply("binary"))).toBe(normal);
      expect(listReplyBytes(cache.listReply("json"))).toBe(normal);
    }
  });

  test("a warning is logged once when Lists pass the threshold, and once more when they are back under it", () => {
    const logs = captureLogs();
    const metrics = createMetrics(() => ({}));
    const size = new ListReplySize(metrics.listReplyBytes, 1000);
    for (const bytes of [500, 1200, 1500, 1100, 900, 800, 1001, 1002]) size.observe(bytes);
    const lines = logs().filter((e) => String(e.args[0]).startsWith("ListSandboxes replies"));
    expect(lines.map((e) => [e.type, (e.args[1] as { bytes: number }).bytes])).toEqual([
      ["warn", 1200],
      ["info", 900],
      ["warn", 1001],
    ]);
    expect(String(lines[0]!.args[0])).toContain("the OpenShell gateway reads driver replies with a 4.0 MiB limit");
  });

  test("Lists under the threshold log nothing", () => {
    const logs = captureLogs();
    const size = new ListReplySize(createMetrics(() => ({})).listReplyBytes);
    size.observe(3.5 * 2 ** 20);
    size.observe(0);
    expect(logs().filter((e) => String(e.args[0]).startsWith("ListSandboxes replies"))).toEqual([]);
  });

  test("/metrics shows the size of the last List reply the gateway would read", async () => {
    const dir = mkdtempSync(join(tmpdir(), "osdrv-list-size-"));
    const socket = join(dir, "driver.sock");
    const metrics = createMetrics(() => ({}));
    let cache = cacheOf(40);
    const server = await startGrpcServer({ socketPath: socket, service: { listSandboxes: () => cache.listReply("binary") }, metrics, maxRequestBytes: 1 << 20 });
    cleanups.push(async () => {
      await server.close(0);
      rmSync(dir, { recursive: true, force: true });
    });
    const client = connectClient(socket);
    const first = await client.listSandboxes({});
    expect(await gaugeValue(metrics)).toBe(toBinary(ListSandboxesResponseSchema, first).length);
    cache = cacheOf(2);
    const second = await client.listSandboxes({});
    expect(await gaugeValue(metrics)).toBe(toBinary(ListSandboxesResponseSchema, second).length);
    expect(second.sandboxes).toHaveLength(2);
  });
});
