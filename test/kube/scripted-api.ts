// A scripted stand-in for kube-apiserver's list+watch protocol, for informer unit tests only.
// It keeps objects with resourceVersions, answers paged LISTs, streams NDJSON watch events, and
// can be told to misbehave: close streams, answer 410, send an in-stream 410 ERROR, or stall.
// Watches with sendInitialEvents=true are streaming lists, served as kube-apiserver 1.27+ with
// WatchList serves them unless told to refuse them (WatchList off) or ignore them (before 1.27).
// It answers an Accept header asking for PartialObjectMetadata only when told to, as
// kube-apiserver does; by default it ignores the header and sends whole objects.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface TestObject {
  metadata: { name: string; namespace: string; resourceVersion: string; uid: string };
  spec: { value: string };
}

/** How the next watch request is answered. */
export type WatchScript = "stream" | "stall" | "gone" | { status: number; reason: string; message: string };

/** How a watch with sendInitialEvents=true is answered. */
export type WatchListSupport = "served" | "refused" | "ignored";

interface OpenWatch {
  res: ServerResponse;
  mode: "stream" | "stall";
  /** Its events carry PartialObjectMetadata. */
  metadataOnly: boolean;
}

const PARTIAL_LIST = /;\s*as=PartialObjectMetadataList;\s*g=meta\.k8s\.io;\s*v=v1/;
const PARTIAL_OBJECT = /;\s*as=PartialObjectMetadata;\s*g=meta\.k8s\.io;\s*v=v1/;

export class ScriptedApi {
  readonly collection = "/apis/test.openshell.io/v1/namespaces/ns/widgets";
  readonly lists: URLSearchParams[] = [];
  readonly watches: URLSearchParams[] = [];
  /** The Accept header of every LIST and of every watch, in the order of `lists` and `watches`. */
  readonly listAccepts: string[] = [];
  readonly watchAccepts: string[] = [];
  /** Convert objects to PartialObjectMetadata when the Accept header asks for it (kube-apiserver does). */
  servesPartialMetadata = false;
  readonly objects = new Map<string, TestObject>();
  readonly nextWatch: WatchScript[] = [];
  /** Answer LISTs with this status instead (e.g. 503), while set. */
  failLists: number | undefined;
  watchList: WatchListSupport = "served";
  /** Page every LIST at this many items, asked for or not (as a server may). */
  forcedPageSize: number | undefined;
  private readonly open = new Set<OpenWatch>();
  private readonly sockets = new Set<Socket>();
  private rv = 100;
  private server: Server | undefined;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get openWatches(): number {
    return this.open.size;
  }

  async start(port = 0): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async close(): Promise<void> {
    for (const w of this.open) w.res.destroy();
    this.open.clear();
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Create or update an object; streaming watches see ADDED or MODIFIED unless silent. */
  put(name: string, value: string, opts: { silent?: boolean; uid?: string } = {}): TestObject {
    const existed = this.objects.has(name);
    const obj: TestObject = {
      metadata: { name, namespace: "ns", resourceVersion: String(++this.rv), uid: opts.uid ?? `uid-${name}` },
      spec: { value },
    };
    this.objects.set(name, obj);
    if (!opts.silent) this.broadcast({ type: existed ? "MODIFIED" : "ADDED", object: obj });
    return obj;
  }

  remove(name: string, opts: { silent?: boolean } = {}): void {
    const obj = this.objects.get(name);
    if (!obj) return;
    this.objects.delete(name);
    const gone = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } };
    if (!opts.silent) this.broadcast({ type: "DELETED", object: gone });
  }

  bookmark(): string {
    const rv = String(++this.rv);
    this.broadcast({ type: "BOOKMARK", object: { kind: "Widget", apiVersion: "test.openshell.io/v1", metadata: { resourceVersion: rv } } });
    return rv;
  }

  /** An in-stream ERROR event with a 410 Status, then the stream ends, as etcd compaction does. */
  expireWatches(): void {
    this.broadcast({
      type: "ERROR",
      object: { kind: "Status", apiVersion: "v1", status: "Failure", message: "too old resource version: 1 (200)", reason: "Expired", code: 410 },
    });
    this.closeWatches();
  }

  /** End every open watch normally, as the server does when timeoutSeconds runs out. */
  closeWatches(): void {
    for (const w of this.open) w.res.end();
    this.open.clear();
  }

  private broadcast(ev: { type: string; object: object }): void {
    const line = JSON.stringify(ev) + "\n";
    const partialLine = JSON.stringify({ ...ev, object: partial(ev.object) }) + "\n";
    for (const w of this.open) if (w.mode === "stream") w.res.write(w.metadataOnly ? partialLine : line);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname !== this.collection) return this.status(res, 404, "NotFound", "the server could not find the requested resource");
    const accept = req.headers.accept ?? "";
    if (url.searchParams.get("watch") === "1") {
      this.watchAccepts.push(accept);
      return this.watch(url.searchParams, res, this.servesPartialMetadata && PARTIAL_OBJECT.test(accept));
    }
    this.listAccepts.push(accept);
    return this.list(url.searchParams, res, this.servesPartialMetadata && PARTIAL_LIST.test(accept));
  }

  private list(q: URLSearchParams, res: ServerResponse, metadataOnly: boolean): void {
    this.lists.push(q);
    if (this.failLists) return this.status(res, this.failLists, "ServiceUnavailable", "etcd is unavailable");
    const all = [...this.objects.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    const limit = this.forcedPageSize ?? Number(q.get("limit") ?? "0");
    const offset = Number(q.get("continue") ?? "0");
    const items = limit > 0 ? all.slice(offset, offset + limit) : all;
    const next = limit > 0 && offset + limit < all.length ? String(offset + limit) : undefined;
    res.writeHead(200, { "content-type": "application/json" });
    const metadata = { resourceVersion: String(this.rv), ...(next ? { continue: next } : {}) };
    res.end(
      JSON.stringify(
        metadataOnly
          ? { kind: "PartialObjectMetadataList", apiVersion: "meta.k8s.io/v1", metadata, items: items.map(partial) }
          : { kind: "WidgetList", metadata, items },
      ),
    );
  }

  private watch(q: URLSearchParams, res: ServerResponse, metadataOnly: boolean): void {
    this.watches.push(q);
    const script = this.nextWatch.shift() ?? "stream";
    if (script === "gone") return this.status(res, 410, "Expired", "too old resource version");
    if (typeof script === "object") return this.status(res, script.status, script.reason, script.message);
    const initialEvents = q.get("sendInitialEvents") === "true";
    if (initialEvents && this.watchList === "refused") {
      return this.status(res, 422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled");
    }
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    res.flushHeaders();
    // Without a resourceVersion, a watch starts with the current state as ADDED events; only a
    // server serving streaming lists marks its end.
    if (script === "stream" && (initialEvents || !q.get("resourceVersion"))) {
      const all = [...this.objects.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
      for (const object of all) res.write(JSON.stringify({ type: "ADDED", object: metadataOnly ? partial(object) : object }) + "\n");
      if (initialEvents && this.watchList === "served") {
        const metadata = { resourceVersion: String(this.rv), annotations: { "k8s.io/initial-events-end": "true" } };
        const bookmark = { type: "BOOKMARK", object: { kind: "Widget", apiVersion: "test.openshell.io/v1", metadata } };
        res.write(JSON.stringify(metadataOnly ? { ...bookmark, object: partial(bookmark.object) } : bookmark) + "\n");
      }
    }
    const w: OpenWatch = { res, mode: script, metadataOnly };
    this.open.add(w);
    res.on("close", () => this.open.delete(w));
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { "content-type": "application/json" });
    res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message }));
  }
}

/** An object as kube-apiserver sends it to a metadata-only reader; Status objects (ERROR events) pass as they are. */
function partial(object: object): object {
  const { kind, metadata } = object as { kind?: string; metadata?: object };
  if (kind === "Status") return object;
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata };
}

/** Poll until cond() holds; fail the test with `what` if it does not within a few seconds. */
export async function eventually(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for: ${what}`);
    await Bun.sleep(10);
  }
}
