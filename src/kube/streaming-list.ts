// Streaming lists (WatchList, KEP-3157): a watch with sendInitialEvents=true and no
// resourceVersion makes the API server send every object from its watch cache as ADDED, then a
// BOOKMARK annotated k8s.io/initial-events-end, then live events on the same connection: the
// current state without a LIST (10,000 objects: one response instead of a 2 s unpaged LIST or
// 10 s of etcd pages). Servers show in three ways that they do not serve it: WatchList switched
// off answers 422 (400 from some proxies); a server older than 1.27 ignores the parameters and
// runs a plain watch, whose events are not all ADDED and whose bookmarks lack the annotation (or
// which, on a quiet collection, sends nothing more after the current state at all).
import type { Query, WatchEvent } from "./client";
import { KubeApiError } from "./errors";

export const STREAMING_LIST_QUERY: Query = { sendInitialEvents: true, resourceVersionMatch: "NotOlderThan" };

const INITIAL_EVENTS_END = "k8s.io/initial-events-end";

/** The server showed it does not serve streaming lists; the message says how. */
export class StreamingListUnserved extends Error {}

/** An answer to a streaming list's request that refuses that kind of request, not this caller. */
export function refusesStreamingList(err: unknown): boolean {
  return err instanceof KubeApiError && (err.status === 400 || err.status === 422);
}

interface WithMeta {
  metadata?: { resourceVersion?: string; annotations?: Record<string, string> };
}

/** The initial state of one streaming list, gathered until its initial-events-end bookmark. */
export class InitialEvents<T extends WithMeta, S> {
  readonly objects = new Map<string, S>();

  constructor(
    private readonly transform: (obj: T) => S,
    private readonly keyOf: (obj: S) => string,
  ) {}

  /**
   * Takes one ADDED or BOOKMARK event (ERROR events are the caller's); returns the state's
   * resourceVersion once the state is complete. Throws StreamingListUnserved for an event only a
   * plain watch sends.
   */
  accept(ev: WatchEvent<T>): { resourceVersion: string | undefined } | undefined {
    if (ev.type === "BOOKMARK") {
      if (ev.object.metadata?.annotations?.[INITIAL_EVENTS_END] !== "true") throw new StreamingListUnserved("a bookmark without initial-events-end came first");
      return { resourceVersion: ev.object.metadata?.resourceVersion };
    }
    if (ev.type !== "ADDED") throw new StreamingListUnserved(`a ${ev.type} event came before initial-events-end`);
    const obj = this.transform(ev.object);
    this.objects.set(this.keyOf(obj), obj);
    return undefined;
  }
}
