// What the GPU capacity check reads from the API server, and what each --gpu-capacity-check mode does.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { V1Node, V1Pod } from "@kubernetes/client-node";
import { ensureGpuCapacity } from "../../src/driver/gpu-capacity-check";
import { KubeClient } from "../../src/kube";
import { SandboxRequestError, validateSandbox } from "../../src/sandbox";
import { makeSandbox, makeSettings } from "../unit/fixtures";

function gpuNode(name: string, gpus: number, labels: Record<string, string> = {}): V1Node {
  return {
    metadata: { name, labels },
    status: { allocatable: { "nvidia.com/gpu": String(gpus) }, conditions: [{ type: "Ready", status: "True" }] },
  };
}

function gpuPod(name: string, nodeName: string, gpus: number): V1Pod {
  return { metadata: { name }, spec: { nodeName, containers: [{ name: "c", resources: { limits: { "nvidia.com/gpu": String(gpus) } } }] }, status: { phase: "Running" } };
}

const nodes = [gpuNode("cpu-0", 0), gpuNode("gpu-a", 2, { pool: "a" }), gpuNode("gpu-b", 4, { pool: "b" }), gpuNode("gpu-c", 1, { pool: "b" })];
const pods = [gpuPod("busy", "gpu-b", 2), gpuPod("other", "gpu-a", 1)];
const requests: URL[] = [];
let server: Server;
let client: KubeClient;

/** A collection answered two items per page. */
function page<T>(items: T[], url: URL): { metadata: { continue?: string }; items: T[] } {
  const limit = Number(url.searchParams.get("limit") ?? "0") || items.length;
  const offset = Number(url.searchParams.get("continue") ?? "0");
  const next = offset + Math.min(limit, 2);
  return { metadata: next < items.length ? { continue: String(next) } : {}, items: items.slice(offset, next) };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    requests.push(url);
    res.writeHead(200, { "content-type": "application/json" });
    if (url.pathname === "/api/v1/nodes") return res.end(JSON.stringify(page(nodes, url)));
    const onNode = /^spec\.nodeName=([^,]+),/.exec(url.searchParams.get("fieldSelector") ?? "")?.[1];
    res.end(JSON.stringify(page(pods.filter((p) => p.spec?.nodeName === onNode), url)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = new KubeClient({ server: url, tls: { rejectUnauthorized: true }, auth: async () => ({}), describe: "test" }, { timeoutMs: 5000 });
});

afterAll(() => server.close());
beforeEach(() => {
  requests.length = 0;
});

function gpuSandbox(count: number | undefined, nodeSelector?: Record<string, string>) {
  return validateSandbox(
    makeSandbox({
      spec: {
        ...(count === undefined ? {} : { resourceRequirements: { gpu: { count } } }),
        template: { image: "busybox", ...(nodeSelector ? { platformConfig: { node_selector: nodeSelector } } : {}) },
      },
    }),
    makeSettings(),
  );
}

const podReads = () => requests.filter((u) => u.pathname === "/api/v1/pods");

describe("GPU capacity check against the API server", () => {
  test("nodes are read page by page, and pods only of the nodes that could take the sandbox, one node each", async () => {
    await ensureGpuCapacity(client, gpuSandbox(2, { pool: "b" }), { gpuCapacityCheck: "strict" });
    const nodeReads = requests.filter((u) => u.pathname === "/api/v1/nodes");
    expect(nodeReads.map((u) => [u.searchParams.get("limit"), u.searchParams.get("continue")])).toEqual([
      ["500", null],
      ["500", "2"],
    ]);
    // gpu-a is in pool a, gpu-c has fewer than 2 GPUs: only gpu-b's pods matter.
    expect(podReads().map((u) => u.searchParams.get("fieldSelector"))).toEqual(["spec.nodeName=gpu-b,status.phase!=Succeeded,status.phase!=Failed"]);
    expect(podReads().every((u) => u.searchParams.get("limit") === "500")).toBe(true);
  });

  test("strict: more GPUs than are free on any node the sandbox may use is refused with RESOURCE_EXHAUSTED", async () => {
    // gpu-b has 2 of its 4 free; the cluster has no other node with 3 in pool b.
    const err = await ensureGpuCapacity(client, gpuSandbox(3, { pool: "b" }), { gpuCapacityCheck: "strict" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxRequestError);
    expect((err as SandboxRequestError).code).toBe("ResourceExhausted");
    expect((err as SandboxRequestError).message).toContain("at most 2 are free");
  });

  test("advisory: the same refusal is only a warning and the sandbox is accepted", async () => {
    await ensureGpuCapacity(client, gpuSandbox(3, { pool: "b" }), { gpuCapacityCheck: "advisory" });
    expect(podReads().length).toBe(1);
  });

  test("off: nothing is read and nothing is refused", async () => {
    await ensureGpuCapacity(client, gpuSandbox(8), { gpuCapacityCheck: "off" });
    expect(requests).toEqual([]);
  });

  test("a sandbox without GPUs reads nothing", async () => {
    await ensureGpuCapacity(client, gpuSandbox(undefined), { gpuCapacityCheck: "strict" });
    expect(requests).toEqual([]);
  });
});
