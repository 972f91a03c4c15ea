// An in-memory stand-in for the parts of kube-apiserver the driver uses for sandboxes, served over
// real HTTP so the driver's own KubeClient (deadlines, transport errors) is what talks to it.
// Sandboxes are stored and listed by label selector (equality and `in` terms only, anything else is a
// 400 as the real server's parse error would be), merge-patched and deleted by name with the
// real server's UID checks (a patch naming another uid is 422, a delete precondition on another
// uid 409); pods, events and nodes are empty lists; other writes are accepted and recorded with
// their bodies. It counts the requests each call makes (`requestsSince`). It can be told to misbehave: refuse or fail
// any request, hold back sandbox watch events, commit a create and then drop the connection or
// never answer.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { KubeClient } from "../../src/kube";

const GROUP = "/apis/agents.x-k8s.io/v1beta1";

/** What a request is about, for `fail`. */
export interface FakeRequest {
  method: string;
  resource: "sandboxes" | "pods" | "events" | "namespaces" | "nodes" | "runtimeclasses" | "other";
  watch: boolean;
  labelSelector: string;
  /** `resourceVersionMatch` of a list, "" when none. */
  resourceVersionMatch: string;
}

/**
 * How the next sandbox POST is answered: commit and answer (default), commit then drop the
 * connection, commit then never answer, never answer without committing, or answer 409 for an
 * object that is gone by the time anyone looks (a delete finished in between).
 */
export type CreateScript = "commit-then-drop" | "commit-then-hang" | "hang" | "conflict-then-gone";

interface OpenWatch {
  res: ServerResponse;
  /** Sandbox watches get sandbox events; others stay quiet. */
  sandboxes: boolean;
  namespace: string | undefined;
  selector: Selector;
}

type Obj = { metadata: { name: string; namespace: string; labels?: Record<string, string>; [k: string]: unknown }; [k: string]: unknown };

export class FakeSandboxApi {
  /** `METHOD path?query` of every request, in order. */
  readonly requests: string[] = [];
  /** The Accept header of every request, in the order of `requests` (the fake sends whole objects whatever it asks). */
  readonly accepts: string[] = [];
  /** Bodies of every write that is not to a sandbox (events, platform objects, patches), in order. */
  readonly otherWrites: { method: string; path: string; body: any }[] = [];
  readonly sandboxes = new Map<string, Obj>();
  readonly nextCreate: CreateScript[] = [];
  /** Answer with this status (and message) instead, when it returns one. */
  fail: (req: FakeRequest) => number | { code: number; message: string } | undefined = () => undefined;
  #holdWatch = false;
  readonly #held: string[] = [];
  readonly #watches = new Set<OpenWatch>();
  readonly #sockets = new Set<Socket>();
  #rv = 100;
  #server: Server | undefined;

  /** `stop` stands for the driver's shutdown: it cancels every call under way. */
  client(timeoutMs: number, stop?: AbortSignal): KubeClient {
    const port = (this.#server!.address() as AddressInfo).port;
    return new KubeClient(
      { server: `http://127.0.0.1:${port}`, tls: { rejectUnauthorized: true }, auth: async () => ({}), describe: "fake" },
      { timeoutMs, ...(stop ? { signal: stop } : {}) },
    );
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.#handle(req, res));
    server.on("connection", (s) => {
      this.#sockets.add(s);
      s.on("close", () => this.#sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.#server = server;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** While true, sandbox watches receive nothing; what happened meanwhile arrives on release. */
  holdSandboxWatch(hold: boolean): void {
    this.#holdWatch = hold;
    if (!hold) for (const line of this.#held.splice(0)) this.#send(line);
  }

  /** Stores a CR as if someone else had created it; watches see it (unless held). */
  put(cr: Obj): Obj {
    const stored = this.#stamp(cr);
    const existed = this.sandboxes.has(key(stored));
    this.sandboxes.set(key(stored), stored);
    this.#broadcast(existed ? "MODIFIED" : "ADDED", stored);
    return stored;
  }

  /** Ends every open watch, as the server does when its timeout runs out. */
  closeWatches(): void {
    for (const w of this.#watches) w.res.end();
    this.#watches.clear();
  }

  posts(): string[] {
    return this.requests.filter((r) => r.startsWith("POST "));
  }

  /**
   * The requests made since `mark` (an index into `requests`), by kind, leaving out the
   * informers' watches: `LIST` is a GET of a collection, `GET` one of a named object.
   */
  requestsSince(mark: number): Record<"LIST" | "GET" | "PATCH" | "DELETE" | "POST", number> {
    const counts = { LIST: 0, GET: 0, PATCH: 0, DELETE: 0, POST: 0 };
    for (const r of this.requests.slice(mark)) {
      const [method, target = ""] = r.split(" ");
      if (target.includes("watch=1")) continue;
      const path = target.split("?")[0]!;
      if (method === "GET") counts[isCollection(path) ? "LIST" : "GET"]++;
      else if (method === "PATCH" || method === "DELETE" || method === "POST") counts[method]++;
    }
    return counts;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    this.accepts.push(req.headers.accept ?? "");
    const body = await readBody(req);
    const watch = url.searchParams.get("watch") === "1";
    const labelSelector = url.searchParams.get("labelSelector") ?? "";
    const route = routeOf(url.pathname);
    if (route.resource !== "sandboxes" && req.method !== "GET") this.otherWrites.push({ method: req.method ?? "", path: url.pathname, body: body === "" ? undefined : JSON.parse(body) });
    const status = this.fail({ method: req.method ?? "GET", resource: route.resource, watch, labelSelector, resourceVersionMatch: url.searchParams.get("resourceVersionMatch") ?? "" });
    if (typeof status === "number") return reply(res, status, statusBody(status, "injected failure"));
    if (status !== undefined) return reply(res, status.code, statusBody(status.code, status.message));
    // A control plane with WatchList off: informers fall back to one LIST from the watch cache.
    if (watch && url.searchParams.get("sendInitialEvents") === "true") {
      return reply(res, 422, statusBody(422, "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled"));
    }
    if (route.resource !== "sandboxes") {
      if (route.resource === "namespaces") return reply(res, 200, { kind: "Namespace", metadata: { name: route.name, annotations: {} } });
      // Writes of other kinds (platform objects, annotations) are accepted as sent.
      if (route.resource === "other" && req.method !== "GET") return reply(res, req.method === "POST" ? 201 : 200, body === "" ? {} : JSON.parse(body));
      if (route.resource === "runtimeclasses" || route.resource === "other") return reply(res, 404, statusBody(404, "not found"));
      if (watch) return this.#openWatch(res, { sandboxes: false, namespace: undefined, selector: [] });
      return reply(res, 200, { metadata: { resourceVersion: String(this.#rv) }, items: [] });
    }
    const selector = parseSelector(labelSelector);
    if (!selector) return reply(res, 400, statusBody(400, `unable to parse requirement: ${labelSelector}`));
    if (route.name === undefined) {
      if (watch) return this.#openWatch(res, { sandboxes: true, namespace: route.namespace, selector });
      if (req.method === "POST") return this.#create(req, res, JSON.parse(body) as Obj);
      const items = [...this.sandboxes.values()].filter((o) => inScope(o, route.namespace) && matches(o, selector));
      return reply(res, 200, { metadata: { resourceVersion: String(this.#rv) }, items });
    }
    const existing = this.sandboxes.get(`${route.namespace}/${route.name}`);
    if (!existing) return reply(res, 404, statusBody(404, `sandboxes "${route.name}" not found`));
    if (req.method === "DELETE") {
      const uid = body === "" ? undefined : (JSON.parse(body) as { preconditions?: { uid?: string } }).preconditions?.uid;
      if (uid !== undefined && uid !== existing.metadata.uid) {
        return reply(res, 409, statusBody(409, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${existing.metadata.uid}`));
      }
      this.sandboxes.delete(key(existing));
      this.#broadcast("DELETED", existing);
    }
    if (req.method === "PATCH") {
      const patch = JSON.parse(body) as { metadata?: { uid?: string } };
      // metadata.uid is immutable: a patch naming another object's uid is invalid.
      if (patch.metadata?.uid !== undefined && patch.metadata.uid !== existing.metadata.uid) {
        return reply(res, 422, statusBody(422, `Sandbox.agents.x-k8s.io "${route.name}" is invalid: metadata.uid: Invalid value: "${patch.metadata.uid}": field is immutable`));
      }
      return reply(res, 200, this.put(mergePatch(existing, patch) as Obj));
    }
    return reply(res, 200, existing);
  }

  #create(req: IncomingMessage, res: ServerResponse, cr: Obj): void {
    const script = this.nextCreate.shift();
    if (script === "hang") return;
    if (script === "conflict-then-gone" || this.sandboxes.has(key(cr))) {
      return reply(res, 409, { ...statusBody(409, `sandboxes "${cr.metadata.name}" already exists`), reason: "AlreadyExists" });
    }
    const stored = this.put(cr);
    if (script === "commit-then-drop") return void req.socket.destroy();
    if (script === "commit-then-hang") return;
    reply(res, 201, stored);
  }

  #stamp(cr: Obj): Obj {
    const rv = String(++this.#rv);
    return {
      ...cr,
      metadata: { uid: `uid-${cr.metadata.name}-${rv}`, creationTimestamp: new Date().toISOString(), ...cr.metadata, resourceVersion: rv },
    };
  }

  #openWatch(res: ServerResponse, scope: Omit<OpenWatch, "res">): void {
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    res.flushHeaders();
    const w: OpenWatch = { res, ...scope };
    this.#watches.add(w);
    res.on("close", () => this.#watches.delete(w));
  }

  #broadcast(type: string, object: Obj): void {
    const line = JSON.stringify({ type, object });
    if (this.#holdWatch) this.#held.push(line);
    else this.#send(line);
  }

  #send(line: string): void {
    const { object } = JSON.parse(line) as { object: Obj };
    for (const w of this.#watches) {
      if (w.sandboxes && inScope(object, w.namespace) && matches(object, w.selector)) w.res.write(`${line}\n`);
    }
  }
}

/** RFC 7386: objects merge key by key, null removes, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = typeof target === "object" && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function isCollection(path: string): boolean {
  return /\/(sandboxes|pods|events|nodes)$/.test(path);
}

function routeOf(path: string): { resource: FakeRequest["resource"]; namespace?: string; name?: string } {
  let m = new RegExp(`^${GROUP}(?:/namespaces/([^/]+))?/sandboxes(?:/([^/]+))?$`).exec(path);
  if (m) return { resource: "sandboxes", ...(m[1] ? { namespace: m[1] } : {}), ...(m[2] ? { name: m[2] } : {}) };
  m = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(path);
  if (m) return { resource: "namespaces", name: m[1]! };
  m = /^\/api\/v1(?:\/namespaces\/[^/]+)?\/(pods|events)$/.exec(path);
  if (m) return { resource: m[1] as "pods" | "events" };
  if (path === "/api/v1/nodes") return { resource: "nodes" };
  if (path.startsWith("/apis/node.k8s.io/v1/runtimeclasses/")) return { resource: "runtimeclasses" };
  return { resource: "other" };
}

/** Each term: a label key and the values it may have. */
type Selector = [string, string[]][];

/** `k=v` and `k in (v1,v2)` terms only; undefined for anything the fake cannot read (the real server would answer 400 to most of it). */
function parseSelector(selector: string): Selector | undefined {
  if (selector === "") return [];
  const terms: Selector = [];
  // Commas separate terms, except inside an `in (…)` list.
  for (const term of selector.split(/,(?![^()]*\))/)) {
    const equal = /^([A-Za-z0-9./_-]+)=([A-Za-z0-9._-]*)$/.exec(term);
    const set = /^([A-Za-z0-9./_-]+) in \(([A-Za-z0-9._,-]*)\)$/.exec(term);
    if (equal) terms.push([equal[1]!, [equal[2]!]]);
    else if (set) terms.push([set[1]!, set[2]!.split(",")]);
    else return undefined;
  }
  return terms;
}

function matches(obj: Obj, selector: Selector): boolean {
  return selector.every(([k, values]) => {
    const value = obj.metadata.labels?.[k];
    return value !== undefined && values.includes(value);
  });
}

function inScope(obj: Obj, namespace: string | undefined): boolean {
  return namespace === undefined || obj.metadata.namespace === namespace;
}

function key(obj: Obj): string {
  return `${obj.metadata.namespace}/${obj.metadata.name}`;
}

function statusBody(code: number, message: string): object {
  const reason = code === 404 ? "NotFound" : code === 403 ? "Forbidden" : code === 409 ? "Conflict" : code === 400 ? "BadRequest" : code === 422 ? "Invalid" : "InternalError";
  return { kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message };
}

function reply(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

/** A Sandbox CR as this driver renders it for gateway `gw-test` (the unit fixtures' settings), in shared mode. */
export function sandboxCr(init: { id: string; name: string; workspace?: string; namespace?: string; deleting?: boolean }): Obj {
  const workspace = init.workspace ?? "alice";
  return {
    apiVersion: "agents.x-k8s.io/v1beta1",
    kind: "Sandbox",
    metadata: {
      name: `${workspace}--${init.name}`,
      namespace: init.namespace ?? "openshell",
      labels: {
        "openshell.ai/managed-by": "openshell",
        "openshell.ai/gateway-id": "gw-test",
        "openshell.ai/sandbox-id": init.id,
        "openshell.ai/sandbox-name": init.name,
        "openshell.ai/sandbox-workspace": workspace,
      },
      ...(init.deleting ? { deletionTimestamp: "2026-01-01T10:00:00Z", finalizers: ["test"] } : {}),
    },
    spec: { podTemplate: { spec: { containers: [] } } },
  };
}
