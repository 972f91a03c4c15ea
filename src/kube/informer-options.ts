// What an informer is told (informer.ts): the collection and how to select from it, how to learn
// its current state, how long a watch may run or stay silent, and what to keep of each object.
import type { KubeClient, KubeObserver } from "./client";
import type { Backoff } from "./retry";

export type InformerEvent<T> =
  | { type: "added" | "modified" | "deleted"; object: T; old?: T }
  | { type: "synced" };

/**
 * How the informer learns the current state. `streaming`: a streaming list, falling back to `list`
 * for good once the server shows it does not serve one. `list`: one LIST from the watch cache.
 * `paged`: LIST pages of `pageSize` at the latest resourceVersion (the slowest at scale: 10 s for
 * 10,000 objects where one LIST took 2 s), for a caller that must not have one large response.
 */
export type InitialSync = "streaming" | "list" | "paged";

export interface InformerOptions<T, S = T> {
  client: KubeClient;
  /** Name for messages and metrics, e.g. "sandboxes.agents.x-k8s.io". */
  resource: string;
  /** Collection path, e.g. /apis/agents.x-k8s.io/v1alpha1/namespaces/ns/sandboxes. */
  listPath: string;
  labelSelector?: string;
  fieldSelector?: string;
  /**
   * Ask for PartialObjectMetadata only (partial-metadata.ts), for a caller that reads nothing but
   * metadata. A server may still send whole objects, so `T` stays the whole object's type.
   */
  metadataOnly?: boolean;
  /** Default "streaming". */
  initialSync?: InitialSync;
  /** limit per LIST page with initialSync "paged"; 0 or unset = 500. */
  pageSize?: number;
  /**
   * A streaming list with no event for this long before its initial-events-end bookmark is taken
   * as a server that ignores sendInitialEvents (it never sends that bookmark). Default 10 s.
   */
  initialEventsTimeoutMs?: number;
  /** Server-side watch timeoutSeconds before ±20% jitter. Default 300. */
  watchTimeoutSeconds?: number;
  /** Re-watch if nothing (not even a BOOKMARK) arrives for this long. Default timeoutSeconds + 60 s. */
  inactivityMs?: number;
  backoff?: Backoff;
  /**
   * Applied to every object as it arrives, before it is cached or passed to onEvent (e.g. to keep
   * only the fields the caller reads). The result must keep metadata.name, namespace, uid and
   * resourceVersion: the cache is keyed by them and relists are diffed by them.
   */
  transform?: (obj: T) => S;
  onEvent?: (ev: InformerEvent<S>) => void;
  /** Metrics hooks; defaults to the observer the client was built with. */
  observer?: KubeObserver;
}
