import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { Socket, AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { toConnectError } from "../../src/contract/errors";
import { Informer, KubeCallCanceled, KubeClient, loadKubeAccess } from "../../src/kube";
import { eventually } from "./scripted-api";

/** Long enough that only a signal, never the deadline, can end a call within the test's timeout. */
const NEVER_MS = 120_000;

/**
 * An API server that accepts connections and reads requests but never answers the ones it is told
 * to ignore: a hung apiserver, or a load balancer whose backend is gone.
 */
class SilentApi {
  readonly seen: string[] = [];
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  url = "";

  constructor(private readonly answers: (path: string, watch: boolean) => unknown | undefined = () => undefined) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      const watch = url.searchParams.get("watch") === "1";
      this.seen.push(`${watch ? "watch" : req.method} ${url.pathname}`);
      const body = this.answers(url.pathname, watch);
      if (body === undefined) return;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    });
    this.server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server?.close(() => r()));
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function silentApi(answers?: (path: string, watch: boolean) => unknown | undefined): Promise<SilentApi> {
  const api = new SilentApi(answers);
  await api.start();
  cleanups.push(() => api.close());
  return api;
}

function clientOf(api: SilentApi, signal?: AbortSignal): KubeClient {
  return new KubeClient(
    { server: api.url, tls: { rejectUnauthorized: true }, auth: async () => ({}), describe: "silent" },
    { timeoutMs: NEVER_MS, ...(signal ? { signal } : {}) },
  );
}

async function cancellation(p: Promise<unknown>): Promise<KubeCallCanceled> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(KubeCallCanceled);
    return err as KubeCallCanceled;
  }
  throw new Error("expected the call to be cancelled");
}

describe("Kubernetes calls end when their caller or the driver stops", () => {
  test("a request the API server never answers is cancelled by its caller's signal, and the gateway sees CANCELLED", async () => {
    const api = await silentApi();
    const caller = new AbortController();
    const call = clientOf(api).request({ verb: "get", path: "/api/v1/namespaces/ns/pods/p", resource: "pods", namespace: "ns", name: "p", signal: caller.signal });
    await eventually(() => api.seen.length === 1, "the request reached the server");
    caller.abort();
    const err = await cancellation(call);
    expect(err.message).toBe('get pods "p" in namespace "ns": cancelled before the API server answered');
    expect(toConnectError(err).code).toBe(Code.Canceled);
  });

  test("the client's stop signal cancels a request and a watch under way, and refuses new calls", async () => {
    const api = await silentApi();
    const stop = new AbortController();
    const client = clientOf(api, stop.signal);
    const request = client.request({ verb: "list", path: "/api/v1/pods", resource: "pods" });
    const watch = client.watch({ path: "/api/v1/pods", query: {}, resource: "pods", signal: new AbortController().signal }).next();
    await eventually(() => api.seen.length === 2, "both calls reached the server");
    const cancelled = Promise.all([cancellation(request), cancellation(watch)]);
    stop.abort();
    await cancelled;
    await cancellation(client.version());
    expect(api.seen.length).toBe(2);
  });

  test("an informer stopped while its list hangs stops", async () => {
    const api = await silentApi();
    const informer = new Informer({ client: clientOf(api), resource: "pods", listPath: "/api/v1/pods", initialSync: "list" });
    informer.start();
    await eventually(() => api.seen.includes("GET /api/v1/pods"), "the list reached the server");
    await informer.stop();
    expect(informer.hasSynced()).toBe(false);
  });

  test("an informer stopped while its watch hangs before any header stops", async () => {
    const api = await silentApi((_path, watch) => (watch ? undefined : { metadata: { resourceVersion: "1" }, items: [] }));
    const informer = new Informer({ client: clientOf(api), resource: "pods", listPath: "/api/v1/pods", initialSync: "list" });
    informer.start();
    await informer.waitForSync();
    await eventually(() => api.seen.includes("watch /api/v1/pods"), "the watch reached the server");
    await informer.stop();
  });
});

describe("exec credential plugins have a deadline and end with the driver", () => {
  /** A kubeconfig whose plugin starts a child that sleeps forever, noting both process ids. */
  function hangingPlugin(): { kubeconfig: string; pids: () => number[] } {
    const dir = mkdtempSync(join(tmpdir(), "hanging-plugin-"));
    const script = join(dir, "plugin.sh");
    writeFileSync(script, `#!/bin/sh\nsleep 1000 &\necho "$$ $!" > ${dir}/pids\nwait\n`);
    chmodSync(script, 0o755);
    const kubeconfig = join(dir, "config");
    writeFileSync(
      kubeconfig,
      `apiVersion: v1
kind: Config
current-context: test
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:1
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ${script}
      interactiveMode: Never
contexts:
- name: test
  context:
    cluster: c
    user: u
`,
    );
    const pids = () => {
      try {
        return readFileSync(join(dir, "pids"), "utf8").trim().split(" ").map(Number);
      } catch {
        return [];
      }
    };
    return { kubeconfig, pids };
  }

  /** Gone, or a zombie nobody has reaped yet (a container's PID 1 may never reap it). */
  function ended(pid: number): boolean {
    try {
      return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z") ?? true;
    } catch {
      return true;
    }
  }

  test("a plugin that never finishes is killed, with its children, at the kube timeout", async () => {
    const plugin = hangingPlugin();
    // Time for the plugin to start its child and record both pids, however busy the machine.
    await expect(loadKubeAccess({ kubeconfigPath: plugin.kubeconfig, pluginTimeoutMs: 2000 })).rejects.toThrow(
      /user "u" exec plugin failed: .*plugin\.sh did not finish within 2000 ms and was killed/,
    );
    const pids = plugin.pids();
    expect(pids.length).toBe(2);
    await eventually(() => pids.every(ended), "the plugin and its child have ended");
  });

  test("a plugin still running when the driver stops is killed", async () => {
    const plugin = hangingPlugin();
    const stop = new AbortController();
    const loading = loadKubeAccess({ kubeconfigPath: plugin.kubeconfig, pluginTimeoutMs: NEVER_MS, signal: stop.signal });
    await eventually(() => plugin.pids().length === 2, "the plugin is running");
    stop.abort();
    await expect(loading).rejects.toThrow(/plugin\.sh was killed: the driver is stopping/);
    await eventually(() => plugin.pids().every(ended), "the plugin and its child have ended");
  });
});
