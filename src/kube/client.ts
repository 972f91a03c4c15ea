// A thin JSON client for the Kubernetes REST API on Bun's own fetch. Bun's fetch takes
// `tls: {ca, cert, key}` per request and honours it; client-node's transport does not (its undici
// dispatcher is a stub under Bun). Every call is bounded by a deadline; watches are bounded only
// until the response headers arrive and are then kept alive by the caller's watchdog. Every call
// also ends at once when its caller's signal or the client's stop signal fires (driver shutdown),
// so nothing waits out a hung API server.

import type { KubeAccess } from "./kubeconfig";
import { KubeApiError, KubeCallCanceled, errorFromResponse } from "./errors";
import { METADATA_LIST_ACCEPT, METADATA_OBJECT_ACCEPT } from "./partial-metadata";
import { errorContext, transportError, type ErrorContext } from "./transport-error";

export type KubeVerb = "get" | "list" | "create" | "patch" | "delete";
export type PatchType = "merge" | "apply";
export type Query = Record<string, string | number | boolean | undefined>;

export interface KubeObserver {
  /** One call per request; code is the HTTP status as a string, or "error" / "timeout". */
  request?(verb: string, code: string, seconds: number): void;
  /** One call per informer watch restart; reason is timeout | gone | error | stall. */
  watchRestart?(resource: string, reason: string): void;
}

export interface KubeClientOptions {
  /** Default deadline of a request, and of a watch until its response headers arrive. */
  timeoutMs: number;
  observer?: KubeObserver;
  /** Once aborted, every call under way is cancelled and new ones fail at once (driver shutdown). */
  signal?: AbortSignal;
}

export interface KubeRequest {
  verb: KubeVerb;
  path: string;
  query?: Query;
  body?: unknown;
  patchType?: PatchType;
  /** Resource name for messages and metrics, e.g. "sandboxes.agents.x-k8s.io". */
  resource: string;
  namespace?: string;
  name?: string;
  timeoutMs?: number;
  /** Cancels the call (the caller stopped or gave up); it rejects with KubeCallCanceled. */
  signal?: AbortSignal;
  /** Ask for metadata only (partial-metadata.ts); a server may still send whole objects. */
  metadataOnly?: boolean;
}

export interface WatchRequest {
  path: string;
  query: Query;
  resource: string;
  namespace?: string;
  signal: AbortSignal;
  /** Called once the server has accepted the watch (2xx headers), before any event arrives. */
  onOpen?: () => void;
  /** Ask for events carrying metadata only (partial-metadata.ts); a server may still send whole objects. */
  metadataOnly?: boolean;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}

const METHOD: Record<KubeVerb, string> = {
  get: "GET",
  list: "GET",
  create: "POST",
  patch: "PATCH",
  delete: "DELETE",
};

const READYZ_TIMEOUT_MS = 5000;

const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  apply: "application/apply-patch+yaml",
};

export class KubeClient {
  readonly access: KubeAccess;
  private readonly timeoutMs: number;
  readonly observer: KubeObserver | undefined;
  private readonly stopSignal: AbortSignal | undefined;

  constructor(access: KubeAccess, opts: KubeClientOptions) {
    this.access = access;
    this.timeoutMs = opts.timeoutMs;
    this.observer = opts.observer;
    this.stopSignal = opts.signal;
  }

  /** GET /version: the cheapest authenticated-transport check (readiness, doctor). */
  async version(): Promise<{ gitVersion: string; [k: string]: unknown }> {
    return this.request({ verb: "get", path: "/version", resource: "version" });
  }

  async request<T>(req: KubeRequest): Promise<T> {
    const ctx = errorContext(req.verb, req);
    const accept = req.metadataOnly ? (req.verb === "list" ? METADATA_LIST_ACCEPT : METADATA_OBJECT_ACCEPT) : "application/json";
    const headers: Record<string, string> = { Accept: accept };
    let body: string | undefined;
    if (req.body !== undefined) {
      // JSON is valid YAML, so apply-patch bodies are sent as JSON too.
      body = JSON.stringify(req.body);
      headers["Content-Type"] = req.verb === "patch" ? PATCH_CONTENT_TYPE[req.patchType ?? "merge"] : "application/json";
    }
    if (req.verb === "patch" && req.patchType === "apply" && !req.query?.fieldManager) {
      throw new TypeError(`patch ${req.resource}: server-side apply needs query.fieldManager`);
    }
    const started = performance.now();
    const timeoutMs = req.timeoutMs ?? this.timeoutMs;
    let res: Response;
    let text: string;
    try {
      // One deadline for the whole call, credentials included (an exec plugin can hang).
      const deadline = AbortSignal.timeout(timeoutMs);
      const signal = this.callSignal(deadline, req.signal);
      Object.assign(headers, await beforeAbort(this.access.auth(), signal));
      res = await fetch(this.url(req.path, req.query), {
        ...this.fetchOptions(),
        method: METHOD[req.verb],
        headers,
        ...(body !== undefined ? { body } : {}),
        signal,
      });
      text = await res.text();
    } catch (err) {
      if (this.cancelled(req.signal)) {
        this.observe(req.verb, "error", started);
        throw new KubeCallCanceled(ctx);
      }
      const e = transportError(ctx, err, timeoutMs, this.access.server);
      this.observe(req.verb, e.reason === "Timeout" ? "timeout" : "error", started);
      throw e;
    }
    this.observe(req.verb, String(res.status), started);
    if (!res.ok) {
      const apiServerReady = res.status === 403 ? await this.apiServerReady() : undefined;
      throw errorFromResponse(ctx, res.status, text, res.headers.get("retry-after"), apiServerReady);
    }
    if (text === "") return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      // Usually a proxy or load balancer answering in the API server's place.
      const contentType = res.headers.get("content-type") || "no content type";
      throw new KubeApiError({
        ...ctx,
        status: res.status,
        reason: "InvalidResponse",
        detail: `expected a JSON Kubernetes object from ${this.access.server}, got ${contentType} (${text.length} bytes) that does not parse as JSON`,
      });
    }
  }

  /**
   * Every item of a collection, `pageSize` at a time with continue tokens, so a large cluster is
   * never read in one response. A continue token that expires (410) starts the list over unpaged,
   * as client-go's pager does.
   */
  async listAll<T>(req: Omit<KubeRequest, "verb" | "body" | "patchType">, pageSize = 500): Promise<T[]> {
    const items: T[] = [];
    let cont: string | undefined;
    let paged = true;
    do {
      let page: { metadata?: { continue?: string }; items?: T[] };
      try {
        page = await this.request({ ...req, verb: "list", query: { ...req.query, ...(paged ? { limit: pageSize } : {}), continue: cont } });
      } catch (err) {
        if (cont === undefined || !(err instanceof KubeApiError) || err.status !== 410) throw err;
        items.length = 0;
        cont = undefined;
        paged = false;
        continue;
      }
      items.push(...(page.items ?? []));
      cont = page.metadata?.continue || undefined;
    } while (cont !== undefined);
    return items;
  }

  /**
   * Whether the API server says it is ready (GET /readyz, open to every identity through the
   * system:public-info-viewer role). Asked after a 403: until its post-start hooks have loaded
   * the RBAC roles, a starting server refuses requests it will allow a moment later.
   */
  private async apiServerReady(): Promise<boolean> {
    const started = performance.now();
    try {
      const signal = this.callSignal(AbortSignal.timeout(Math.min(this.timeoutMs, READYZ_TIMEOUT_MS)));
      const headers = { Accept: "text/plain", ...(await beforeAbort(this.access.auth(), signal)) };
      const res = await fetch(this.url("/readyz"), { ...this.fetchOptions(), method: "GET", headers, signal });
      await res.text();
      this.observe("get", String(res.status), started);
      return res.ok;
    } catch {
      this.observe("get", "error", started);
      return false;
    }
  }

  /**
   * Streaming GET with watch=1. The deadline covers connecting and the response headers only;
   * after that the stream lives until the server ends it (timeoutSeconds), the caller aborts
   * `signal`, or the connection breaks. Ends quietly when `signal` aborts; rejects with
   * KubeCallCanceled when the client's stop signal does.
   */
  async *watch<T>(req: WatchRequest): AsyncGenerator<WatchEvent<T>, void, undefined> {
    const ctx = errorContext("watch", req);
    const started = performance.now();
    const ctrl = new AbortController();
    const onAbort = () => ctrl.abort();
    if (req.signal.aborted) return;
    if (this.stopSignal?.aborted) throw new KubeCallCanceled(ctx);
    req.signal.addEventListener("abort", onAbort, { once: true });
    this.stopSignal?.addEventListener("abort", onAbort, { once: true });
    let headersTimedOut = false;
    const headerTimer = setTimeout(() => {
      headersTimedOut = true;
      ctrl.abort(new DOMException("watch response headers did not arrive in time", "TimeoutError"));
    }, this.timeoutMs);
    try {
      let res: Response;
      try {
        const accept = req.metadataOnly ? METADATA_OBJECT_ACCEPT : "application/json";
        const headers = { Accept: accept, ...(await beforeAbort(this.access.auth(), ctrl.signal)) };
        res = await fetch(this.url(req.path, { ...req.query, watch: 1 }), {
          ...this.fetchOptions(),
          method: "GET",
          headers,
          signal: ctrl.signal,
          // Bun applies an idle timeout (5 min default) to every fetch; a quiet watch is healthy,
          // and liveness is the caller's watchdog's job.
          timeout: false,
        });
      } catch (err) {
        if (req.signal.aborted) return;
        if (this.cancelled()) throw new KubeCallCanceled(ctx);
        const e = transportError(ctx, headersTimedOut ? timeoutErr() : err, this.timeoutMs, this.access.server);
        this.observe("watch", e.reason === "Timeout" ? "timeout" : "error", started);
        throw e;
      } finally {
        clearTimeout(headerTimer);
      }
      this.observe("watch", String(res.status), started);
      if (!res.ok || !res.body) {
        const text = await res.text().catch(() => "");
        throw errorFromResponse(ctx, res.status, text, res.headers.get("retry-after"));
      }
      req.onOpen?.();
      yield* readNdjson<WatchEvent<T>>(res.body, ctx, req.signal, this.stopSignal, this.access.server);
    } finally {
      clearTimeout(headerTimer);
      req.signal.removeEventListener("abort", onAbort);
      this.stopSignal?.removeEventListener("abort", onAbort);
      // Ends the HTTP stream when the consumer stops early (break, throw, stall abort).
      ctrl.abort();
    }
  }

  /** The deadline, the caller's signal and the client's stop signal, whichever fires first. */
  private callSignal(deadline: AbortSignal, caller?: AbortSignal): AbortSignal {
    const signals = [deadline, caller, this.stopSignal].filter((s): s is AbortSignal => s !== undefined);
    return signals.length === 1 ? deadline : AbortSignal.any(signals);
  }

  private cancelled(caller?: AbortSignal): boolean {
    return caller?.aborted === true || this.stopSignal?.aborted === true;
  }

  private url(path: string, query?: Query): string {
    let url = this.access.server + (path.startsWith("/") ? path : `/${path}`);
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) qs.set(k, String(v));
    const s = qs.toString();
    if (s) url += (url.includes("?") ? "&" : "?") + s;
    return url;
  }

  private fetchOptions(): BunFetchRequestInit {
    const t = this.access.tls;
    // A CA file is re-read when it changes, so a rotated cluster CA needs no restart.
    const ca = typeof t.ca === "function" ? t.ca() : t.ca;
    return {
      tls: {
        rejectUnauthorized: t.rejectUnauthorized,
        ...(ca !== undefined ? { ca } : {}),
        ...(t.cert !== undefined ? { cert: t.cert } : {}),
        ...(t.key !== undefined ? { key: t.key } : {}),
        ...(t.serverName !== undefined ? { serverName: t.serverName } : {}),
      },
      ...(this.access.proxyUrl ? { proxy: this.access.proxyUrl } : {}),
      redirect: "error",
    };
  }

  private observe(verb: string, code: string, started: number): void {
    try {
      this.observer?.request?.(verb, code, (performance.now() - started) / 1000);
    } catch {
      // metrics must never fail a request
    }
  }
}

async function* readNdjson<E>(
  body: ReadableStream<Uint8Array>,
  ctx: ErrorContext,
  signal: AbortSignal,
  stop: AbortSignal | undefined,
  server: string,
): AsyncGenerator<E, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (signal.aborted) return;
        if (stop?.aborted) throw new KubeCallCanceled(ctx);
        throw transportError(ctx, err, 0, server);
      }
      if (chunk.done) break;
      buf += decoder.decode(chunk.value, { stream: true });
      // One cut per chunk: a streaming list's chunk holds hundreds of events, and cutting the
      // rest off after each would copy it hundreds of times.
      let start = 0;
      let nl: number;
      while ((nl = buf.indexOf("\n", start)) >= 0) {
        const line = buf.slice(start, nl).trim();
        start = nl + 1;
        if (line !== "") yield parseEvent<E>(line, ctx);
      }
      buf = buf.slice(start);
    }
    buf += decoder.decode();
    if (buf.trim() !== "") yield parseEvent<E>(buf.trim(), ctx);
  } finally {
    reader.cancel().catch(() => {});
  }
}

function parseEvent<E>(line: string, ctx: ErrorContext): E {
  try {
    const ev = JSON.parse(line) as { type?: unknown; object?: unknown };
    if (typeof ev?.type === "string" && ev.object !== undefined) return ev as E;
  } catch {
    // fall through
  }
  throw new KubeApiError({ ...ctx, status: 0, reason: "InvalidResponse", detail: "watch stream carried a line that is not a watch event" });
}

/** `promise`, or a rejection with the signal's reason as soon as `signal` aborts. */
function beforeAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function timeoutErr(): Error {
  return new DOMException("timed out", "TimeoutError");
}
