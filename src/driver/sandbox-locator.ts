// Where the Sandbox CRs carrying a sandbox id are, for a write to act on by name or for a Get miss
// to be confirmed. While the cache is synced and watching it answers with no request: it holds
// every CR of this gateway with its name, namespace and UID. It is behind the API server by its
// watch's delay, so what it names may have moved on since (deleted, or the name taken by another
// sandbox): writes carry the CR's UID as a precondition and ask the API server once when that
// fails (SandboxOperations). An id the cache does not hold is confirmed with the API server in one
// read that does not scan etcd (SandboxLookup.byIdsNotOlderThan); a cache that cannot vouch for
// what it holds (not synced, a watch failing) is not asked at all. Misses that arrive together
// are confirmed together (BatchedReads): one read for the ids that missed meanwhile.
import { isKubeApiError } from "../kube";
import { checkSandboxId } from "../sandbox/sandbox-id";
import { BatchedReads } from "./batched-reads";
import type { SandboxCache } from "./sandbox-cache";
import type { FoundSandbox, SandboxLookup } from "./sandbox-lookup";
import type { CachedSandbox } from "./slim-objects";

/** What a write needs of a CR: where it is and which object it is. */
export interface SandboxRef {
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string | Date;
    deletionTimestamp?: string | Date;
    labels?: Record<string, string>;
  };
}

export interface Located {
  /** Oldest first; empty when the id has no CR. */
  crs: SandboxRef[];
  /** From the cache, which may be behind: a write that finds it moved asks the API server (`live`). */
  cached: boolean;
}

/**
 * Ids whose misses one read confirms at most: 64 ids of up to 63 characters make a selector of
 * about 4.3 KB once URL-encoded, inside the 8 KB request line common proxies allow.
 */
const MISSES_PER_READ = 64;

export class SandboxLocator {
  readonly #cache: SandboxCache;
  readonly #lookup: SandboxLookup;
  readonly #misses = new BatchedReads<FoundSandbox[]>((ids) => this.#confirmMisses(ids), MISSES_PER_READ);
  /** The newest resourceVersion a write of this driver's came back with. */
  #written: string | undefined;

  constructor(cache: SandboxCache, lookup: SandboxLookup) {
    this.#cache = cache;
    this.#lookup = lookup;
  }

  /** Notes the resourceVersion a write of a Sandbox CR answered with, so a miss is never read from before it. */
  wrote(cr: { metadata?: { resourceVersion?: string } } | undefined): void {
    const rv = cr?.metadata?.resourceVersion;
    if (rv !== undefined) this.#written = newer(this.#written, rv);
  }

  /** The cache's answer alone: the CRs it holds with the id, undefined while it cannot vouch for them. */
  cached(sandboxId: string): SandboxRef[] | undefined {
    return this.#cache.holdersOf(sandboxId)?.flatMap(refOf);
  }

  /** The CRs carrying `sandboxId`: from the cache when it holds them, else one read from the API server. */
  async find(sandboxId: string): Promise<Located> {
    const cached = this.#cache.holdersOf(sandboxId);
    if (cached && cached.length > 0) return { crs: cached.flatMap(refOf), cached: true };
    return { crs: await this.confirmMiss(sandboxId), cached: false };
  }

  /**
   * The API server's answer for an id the cache does not hold, from a read that began after the
   * miss. Misses that arrive while one is being read go in the next read together: the API
   * server answers a label-selected read by walking every Sandbox of the namespace in memory (it
   * keeps no label index for custom resources), so 16 misses at once were 16 walks of the fleet
   * competing for its CPU, and are now two, one after the other. The price: a miss may wait for
   * the read in flight before its own.
   */
  confirmMiss(sandboxId: string): Promise<FoundSandbox[]> {
    // Checked here too, so an id that is not a label value fails its own call, not a batch.
    checkSandboxId(sandboxId, "sandbox_id");
    return this.#misses.get(sandboxId);
  }

  /**
   * One read for the ids: from the API server's watch cache, no older than what the driver's
   * cache has seen and the driver's own last write, while the cache is healthy; otherwise a
   * consistent read, as the cache's version says nothing then. A watch cache that has not reached
   * that version within the API server's 3 s (`blockTimeout`) answers 504 "Too large resource
   * version", and a consistent read, which then goes to etcd, is made instead.
   */
  async #confirmMisses(sandboxIds: string[]): Promise<Map<string, FoundSandbox[]>> {
    const seen = this.#cache.sandboxesSeenAt();
    if (seen === undefined) return this.#lookup.byIds(sandboxIds);
    try {
      return await this.#lookup.byIdsNotOlderThan(sandboxIds, newer(seen, this.#written) ?? seen);
    } catch (err) {
      if (!isKubeApiError(err, 504) || !/too large resource version/i.test(err.detail)) throw err;
      return this.#lookup.byIds(sandboxIds);
    }
  }

  /** A consistent read of the CRs carrying `sandboxId`, for when the cache's answer has moved on. */
  live(sandboxId: string): Promise<FoundSandbox[]> {
    return this.#lookup.byId(sandboxId);
  }
}

function refOf(cr: CachedSandbox): SandboxRef[] {
  const { name, namespace } = cr.metadata;
  if (name === undefined || namespace === undefined) return [];
  return [{ metadata: { ...cr.metadata, name, namespace } }];
}

/**
 * The later of two resourceVersions. They are opaque to clients by API convention; every
 * kube-apiserver hands out etcd revisions, decimal integers that only grow, and this only picks
 * which one to send: the server holds the read to it. Anything else keeps the first.
 */
function newer(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return a;
  return BigInt(b) > BigInt(a) ? b : a;
}
