// The LIST half of an informer's sync, for API servers that do not stream the initial state.
// `resourceVersion=0` is answered from the API server's watch cache in one response: at 10,000
// objects that is about 2 s, where pages of 500 read from etcd take about 10 s. The watch cache
// may lag etcd a little, so after a 410 (our resourceVersion is older than anything the server
// keeps) the list asks for the latest state instead (no resourceVersion, which API servers since
// 1.31 also serve from the cache), or a relist could move an object back to an older version
// than the one already reported, as client-go avoids too. Paging is followed only when the server
// insists (a `continue` in the answer); `paged` keeps the etcd pages of `pageSize` for callers that
// ask for them.
import type { KubeClient } from "./client";
import { isKubeApiError } from "./errors";

export type ListFreshness = "cached" | "latest" | "paged";

export interface InitialListRequest {
  client: KubeClient;
  resource: string;
  /** For error messages. */
  namespace?: string;
  listPath: string;
  labelSelector?: string;
  fieldSelector?: string;
  freshness: ListFreshness;
  /** limit per page when `freshness` is "paged"; default 500. */
  pageSize?: number;
  /** Ask for PartialObjectMetadata items only (partial-metadata.ts). */
  metadataOnly?: boolean;
  signal: AbortSignal;
}

interface ListResponse<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

/** Every item of the collection and the resourceVersion they were read at (undefined if aborted). */
export async function listInitialState<T>(req: InitialListRequest): Promise<{ items: T[]; resourceVersion: string | undefined } | undefined> {
  const items: T[] = [];
  let cont: string | undefined;
  let rv: string | undefined;
  let paged = req.freshness === "paged";
  do {
    let page: ListResponse<T>;
    try {
      page = await req.client.request<ListResponse<T>>({
        verb: "list",
        path: req.listPath,
        resource: req.resource,
        ...(req.namespace !== undefined ? { namespace: req.namespace } : {}),
        signal: req.signal,
        ...(req.metadataOnly ? { metadataOnly: true } : {}),
        query: {
          labelSelector: req.labelSelector,
          fieldSelector: req.fieldSelector,
          // A continue token carries its own resourceVersion; the server refuses a second one.
          ...(req.freshness === "cached" && cont === undefined ? { resourceVersion: "0" } : {}),
          ...(paged ? { limit: req.pageSize ?? 500 } : {}),
          continue: cont,
        },
      });
    } catch (err) {
      if (cont !== undefined && isKubeApiError(err, 410)) {
        // The continue token expired mid-list; start over with one unpaged list, as client-go does.
        items.length = 0;
        cont = undefined;
        paged = false;
        continue;
      }
      throw err;
    }
    if (req.signal.aborted) return undefined;
    for (const item of page.items ?? []) items.push(item);
    rv = page.metadata?.resourceVersion;
    cont = page.metadata?.continue || undefined;
  } while (cont !== undefined);
  return { items, resourceVersion: rv };
}
