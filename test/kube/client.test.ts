import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:http";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { KubeClient, type KubeAccess, type WatchEvent } from "../../src/kube";
import { failure } from "./expect-kube-error";

function plainAccess(url: string): KubeAccess {
  return { server: url, tls: { rejectUnauthorized: true }, auth: async () => ({}), describe: "test" };
}

async function listen(server: Server | NetServer): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}


const STATUS: Record<number, { reason: string; message: string }> = {
  409: { reason: "AlreadyExists", message: `sandboxes.agents.x-k8s.io "ws--a" already exists` },
  403: {
    reason: "Forbidden",
    message: `sandboxes.agents.x-k8s.io "ws--a" is forbidden: User "system:serviceaccount:openshell-system:driver" cannot create resource "sandboxes" in API group "agents.x-k8s.io" in the namespace "openshell-system"`,
  },
  404: { reason: "NotFound", message: `sandboxes.agents.x-k8s.io "ws--a" not found` },
  422: { reason: "Invalid", message: `Sandbox.agents.x-k8s.io "ws--a" is invalid: spec.podTemplate: Required value` },
  410: { reason: "Expired", message: "too old resource version: 5 (10)" },
  503: { reason: "ServiceUnavailable", message: "the server is currently unable to handle the request" },
};

describe("API errors", () => {
  let server: Server;
  let client: KubeClient;
  const bodies: string[] = [];
  const seen: Array<{ method: string; contentType: string | undefined; url: string }> = [];
  let readyz = 200;
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        const path = new URL(req.url ?? "/", "http://x").pathname;
        if (path === "/readyz") {
          res.writeHead(readyz, { "content-type": "text/plain" });
          return res.end(readyz === 200 ? "ok" : "[-]poststarthook/rbac/bootstrap-roles failed: not finished\nreadyz check failed");
        }
        if (path === "/html") {
          res.writeHead(200, { "content-type": "text/html" });
          return res.end("<html><body>Sign in</body></html>");
        }
        bodies.push(body);
        seen.push({ method: req.method ?? "", contentType: req.headers["content-type"], url: req.url ?? "" });
        const code = Number(new URL(req.url ?? "/", "http://x").searchParams.get("code") ?? "200");
        if (code === 200) {
          res.writeHead(200, { "content-type": "application/json" });
          return res.end(JSON.stringify({ ok: true }));
        }
        if (code === 502) {
          res.writeHead(502, { "content-type": "text/html" });
          return res.end("<html><body>Bad Gateway</body></html>");
        }
        const s = STATUS[code]!;
        res.writeHead(code, { "content-type": "application/json", ...(code === 503 ? { "retry-after": "3" } : {}) });
        res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", code, ...s }));
      });
    });
    client = new KubeClient(plainAccess(await listen(server)), { timeoutMs: 5000 });
  });
  afterAll(() => server.close());

  for (const code of [409, 403, 404, 422, 410, 503]) {
    test(`a ${code} ${STATUS[code]!.reason} answer names the verb, resource, object, namespace and the server's message`, async () => {
      const err = await failure(
        client.request({
          verb: "create",
          path: "/apis/agents.x-k8s.io/v1alpha1/namespaces/openshell-system/sandboxes",
          query: { code },
          body: { spec: { secret: "do-not-leak" } },
          resource: "sandboxes.agents.x-k8s.io",
          namespace: "openshell-system",
          name: "ws--a",
        }),
      );
      expect(err.status).toBe(code);
      expect(err.reason).toBe(STATUS[code]!.reason);
      expect(err.message).toStartWith(`create sandboxes.agents.x-k8s.io "ws--a" in namespace "openshell-system": `);
      expect(err.message).toContain(STATUS[code]!.message);
      expect(err.message).not.toContain("do-not-leak");
      expect(err.objectName).toBe("ws--a");
      expect(err.namespace).toBe("openshell-system");
    });
  }

  test("the forbidden message reads like kubectl's", async () => {
    const err = await failure(
      client.request({ verb: "create", path: "/x", query: { code: 403 }, resource: "sandboxes.agents.x-k8s.io", namespace: "openshell-system", name: "ws--a" }),
    );
    expect(err.message).toContain(`create sandboxes.agents.x-k8s.io "ws--a" in namespace "openshell-system": forbidden: sandboxes.agents.x-k8s.io "ws--a" is forbidden: User "system:serviceaccount:openshell-system:driver" cannot create resource`);
  });

  test("a 403 is followed by a look at /readyz, telling a starting API server's refusal from a missing permission", async () => {
    const forbidden = () => failure(client.request({ verb: "create", path: "/x", query: { code: 403 }, resource: "sandboxes.agents.x-k8s.io" }));
    readyz = 500;
    expect((await forbidden()).apiServerReady).toBe(false);
    readyz = 200;
    expect((await forbidden()).apiServerReady).toBe(true);
    const notFound = await failure(client.request({ verb: "get", path: "/x", query: { code: 404 }, resource: "pods" }));
    expect(notFound.apiServerReady).toBeUndefined();
  });

  test("a success whose body is not JSON fails saying what was expected and what came instead", async () => {
    const err = await failure(client.request({ verb: "get", path: "/html", resource: "namespaces", name: "ns" }));
    expect(err.reason).toBe("InvalidResponse");
    expect(err.message).toBe(
      `get namespaces "ns": invalid response: expected a JSON Kubernetes object from ${client.access.server}, got text/html (33 bytes) that does not parse as JSON`,
    );
  });

  test("a 503 carries the server's Retry-After", async () => {
    const err = await failure(client.request({ verb: "get", path: "/x", query: { code: 503 }, resource: "pods" }));
    expect(err.retryAfterSeconds).toBe(3);
  });

  test("a proxy's HTML error page becomes a short readable message", async () => {
    const err = await failure(client.request({ verb: "list", path: "/x", query: { code: 502 }, resource: "pods", namespace: "x" }));
    expect(err.status).toBe(502);
    expect(err.message).toBe(`list pods in namespace "x": internal error: <html><body>Bad Gateway</body></html>`);
  });

  test("each verb uses its HTTP method and patch type its content type", async () => {
    const base = { path: "/ok", resource: "pods", body: { a: 1 } };
    await client.request({ ...base, verb: "create" });
    expect(seen.at(-1)).toMatchObject({ method: "POST", contentType: "application/json" });
    await client.request({ ...base, verb: "patch" });
    expect(seen.at(-1)).toMatchObject({ method: "PATCH", contentType: "application/merge-patch+json" });
    await client.request({ ...base, verb: "patch", patchType: "apply", query: { fieldManager: "openshell", force: true } });
    expect(seen.at(-1)).toMatchObject({ method: "PATCH", contentType: "application/apply-patch+yaml", url: "/ok?fieldManager=openshell&force=true" });
    await client.request({ path: "/ok", resource: "pods", verb: "delete", query: { dryRun: "All", skip: undefined } });
    expect(seen.at(-1)).toMatchObject({ method: "DELETE", url: "/ok?dryRun=All" });
    await expect(client.request({ ...base, verb: "patch", patchType: "apply" })).rejects.toThrow(/fieldManager/);
  });

  test("the metrics observer sees every request with its status code", async () => {
    const calls: Array<[string, string]> = [];
    const observed = new KubeClient(client.access, { timeoutMs: 5000, observer: { request: (verb, code) => calls.push([verb, code]) } });
    await observed.request({ verb: "get", path: "/ok", resource: "pods" });
    await failure(observed.request({ verb: "delete", path: "/x", query: { code: 404 }, resource: "pods" }));
    expect(calls).toEqual([
      ["get", "200"],
      ["delete", "404"],
    ]);
  });
});

describe("network failures", () => {
  let silent: NetServer;
  const sockets = new Set<Socket>();
  beforeAll(() => {
    silent = createNetServer((s) => {
      sockets.add(s);
      s.on("error", () => {});
    });
  });
  afterAll(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });

  test("a server that accepts the connection but never answers fails with a Timeout error", async () => {
    const calls: string[] = [];
    const client = new KubeClient(plainAccess(await listen(silent)), { timeoutMs: 200, observer: { request: (_v, code) => calls.push(code) } });
    const err = await failure(client.request({ verb: "get", path: "/api/v1/namespaces/x/pods/p", resource: "pods", namespace: "x", name: "p" }));
    expect(err.status).toBe(0);
    expect(err.reason).toBe("Timeout");
    expect(err.message).toStartWith(`get pods "p" in namespace "x": timeout:`);
    expect(calls).toEqual(["timeout"]);
  });

  test("a watch whose response headers never come fails with a Timeout error", async () => {
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const client = new KubeClient(plainAccess(url), { timeoutMs: 200 });
    const ctrl = new AbortController();
    const err = await failure((async () => {
      for await (const _ of client.watch({ path: "/api/v1/pods", query: {}, resource: "pods", signal: ctrl.signal })) {
        // nothing arrives
      }
    })());
    expect(err.reason).toBe("Timeout");
  });

  test("a port with nothing listening fails with ConnectionRefused", async () => {
    const probe = createNetServer();
    const url = await listen(probe);
    await new Promise<void>((r) => probe.close(() => r()));
    const client = new KubeClient(plainAccess(url), { timeoutMs: 2000 });
    const err = await failure(client.version());
    expect(err.status).toBe(0);
    expect(err.reason).toBe("ConnectionRefused");
  });
});

describe("watch streams", () => {
  test("events split across network chunks arrive whole and in order", async () => {
    const server = createServer((req, res) => {
      expect(new URL(req.url ?? "", "http://x").searchParams.get("watch")).toBe("1");
      res.writeHead(200, { "content-type": "application/json" });
      const a = JSON.stringify({ type: "ADDED", object: { metadata: { name: "a", resourceVersion: "1" } } });
      const b = JSON.stringify({ type: "MODIFIED", object: { metadata: { name: "a", resourceVersion: "2" } } });
      res.write(a.slice(0, 10));
      setTimeout(() => res.write(a.slice(10) + "\n" + b.slice(0, 5)), 20);
      setTimeout(() => res.end(b.slice(5) + "\n"), 40);
    });
    const client = new KubeClient(plainAccess(await listen(server)), { timeoutMs: 2000 });
    const got: Array<WatchEvent<{ metadata: { resourceVersion: string } }>> = [];
    for await (const ev of client.watch<{ metadata: { resourceVersion: string } }>({ path: "/w", query: {}, resource: "pods", signal: new AbortController().signal })) {
      got.push(ev);
    }
    server.close();
    expect(got.map((e) => `${e.type}@${e.object.metadata.resourceVersion}`)).toEqual(["ADDED@1", "MODIFIED@2"]);
  });

  test("a watch refused with 403 fails before any event with the server's message", async () => {
    const server = createServer((_req, res) => {
      res.writeHead(403, { "content-type": "application/json" });
      res.end(JSON.stringify({ kind: "Status", code: 403, reason: "Forbidden", message: `pods is forbidden: User "x" cannot watch resource "pods"` }));
    });
    const client = new KubeClient(plainAccess(await listen(server)), { timeoutMs: 2000 });
    const err = await failure((async () => {
      for await (const _ of client.watch({ path: "/w", query: {}, resource: "pods", namespace: "x", signal: new AbortController().signal })) {
        // none
      }
    })());
    server.close();
    expect(err.status).toBe(403);
    expect(err.message).toBe(`watch pods in namespace "x": forbidden: pods is forbidden: User "x" cannot watch resource "pods"`);
  });
});
