// CreateSandbox: every check ValidateSandboxCreate makes, one sandbox per id, the write, and an
// answer the gateway can act on when the write's reply never came. The gateway takes a failed
// create as "nothing was created" and forgets the sandbox, so a create the API server did commit
// must not be reported as failed: it is looked up and, if it is there with this id, is a success.
import type { DriverSandbox } from "../gen/compute_driver_pb";
import { isKubeApiError, KubeCallCanceled, type KubeClient } from "../kube";
import { logger } from "../log";
import { LABEL_SANDBOX_NAME, sandboxIdOf, type SandboxResource, type ValidatedSandbox } from "../sandbox";
import type { RenderSettings } from "../sandbox/settings";
import type { CreatePreflight } from "./create-preflight";
import { DriverError } from "./errors";
import { sandboxesPath } from "./kube-paths";
import type { SandboxLocator, SandboxRef } from "./sandbox-locator";
import type { FoundSandbox, SandboxLookup } from "./sandbox-lookup";
import type { SandboxSideObjects } from "./side-objects-writer";
import type { WorkspaceNamespaces } from "./workspace-namespaces";

const log = logger("lifecycle");

/** A name freed by a delete finishing between our create and our look at it is tried again, this often. */
const MAX_CREATE_ATTEMPTS = 3;

/** Transport failures that happen before a request is sent: nothing can have been written. */
const NOT_SENT = new Set(["ConnectionRefused", "TLSError"]);

export interface SandboxCreatorOptions {
  client: KubeClient;
  settings: RenderSettings;
  namespaces: WorkspaceNamespaces;
  preflight: CreatePreflight;
  lookup: SandboxLookup;
  /**
   * The CRs the cache, synced and watching, holds with this id. The common case (a new sandbox,
   * none) then needs no live lookup: one made outside this driver in the last moments is missed,
   * as by any informer-backed controller; this driver's own earlier create of the id under the
   * same name still ends as the idempotent 409 path below.
   */
  locator: SandboxLocator;
  sideObjects: SandboxSideObjects;
}

export class SandboxCreator {
  readonly #client: KubeClient;
  readonly #settings: RenderSettings;
  readonly #namespaces: WorkspaceNamespaces;
  readonly #preflight: CreatePreflight;
  readonly #lookup: SandboxLookup;
  readonly #sideObjects: SandboxSideObjects;
  readonly #locator: SandboxLocator;
  /** The create under way for each sandbox id. */
  readonly #inFlight = new Map<string, Promise<void>>();

  constructor(opts: SandboxCreatorOptions) {
    this.#client = opts.client;
    this.#settings = opts.settings;
    this.#namespaces = opts.namespaces;
    this.#preflight = opts.preflight;
    this.#lookup = opts.lookup;
    this.#sideObjects = opts.sideObjects;
    this.#locator = opts.locator;
  }

  /**
   * Creates of one id run one after another, so two concurrent calls cannot both find the id
   * unused and create it under two names.
   */
  async create(sandbox: DriverSandbox): Promise<void> {
    const previous = this.#inFlight.get(sandbox.id) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.#create(sandbox));
    this.#inFlight.set(sandbox.id, run);
    try {
      await run;
    } finally {
      if (this.#inFlight.get(sandbox.id) === run) this.#inFlight.delete(sandbox.id);
    }
  }

  async #create(sandbox: DriverSandbox): Promise<void> {
    const created = await this.#createCr(sandbox);
    // Exposure objects need the CR's uid to be owned by it; an idempotent retry adds what is missing.
    await this.#sideObjects.create(created);
  }

  /** The CR of this sandbox, as the API server has it once it exists. */
  async #createCr(sandbox: DriverSandbox): Promise<SandboxResource> {
    // The checks and the id lookup are independent reads: made together, refusals reported first.
    const cached = this.#locator.cached(sandbox.id);
    const [checked, holders] = await Promise.allSettled([
      this.#preflight.check(sandbox),
      cached === undefined ? this.#lookup.byId(sandbox.id) : Promise.resolve(cached),
    ]);
    if (checked.status === "rejected") throw checked.reason;
    if (holders.status === "rejected") throw holders.reason;
    const validated = checked.value;
    for (const warning of validated.warnings) log.warn(warning, { sandboxId: sandbox.id });
    const existing = cached === undefined ? (holders.value as FoundSandbox[]) : await this.#confirmCached(validated, cached);
    if (existing.length > 0) return this.#idInUse(validated, existing);
    const { kubeName: name, namespace } = validated;
    // Managed mode creates the namespace (and what sandboxes need in it) first, as upstream does.
    const target = await this.#namespaces.prepare(sandbox.workspace, "sandbox.workspace");
    const resource = this.#preflight.render(validated, target);
    for (let attempt = 1; ; attempt++) {
      try {
        const created = await this.#client.request<SandboxResource>({
          verb: "create",
          path: sandboxesPath(this.#settings.apiVersion, namespace),
          body: resource,
          resource: "sandboxes.agents.x-k8s.io",
          namespace,
          name,
        });
        this.#locator.wrote(created);
        log.info("sandbox created", { sandboxId: sandbox.id, name, namespace });
        return created;
      } catch (err) {
        if (outcomeUnknown(err)) return this.#confirmOutcome(validated, err);
        if (!isKubeApiError(err, 409)) throw err;
        const holder = await this.#nameTaken(validated);
        if (holder !== "free") return holder;
        // Gone by the time we looked: the holder's deletion just finished, so the name is free.
        if (attempt < MAX_CREATE_ATTEMPTS) continue;
        throw new DriverError("Aborted", `the name "${name}" in namespace "${namespace}" was taken and freed again ${attempt} times while this sandbox was being created; retry`);
      }
    }
  }

  /**
   * The CRs the cache holds with the id, as the API server has them: a deletion under way is
   * final, so the cache's word is enough for it; otherwise the CR the answer rests on is read by
   * name (one GET) and, if it has moved on since the cache saw it, the id is looked up live.
   */
  async #confirmCached(v: ValidatedSandbox, cached: SandboxRef[]): Promise<FoundSandbox[]> {
    if (cached.length === 0) return [];
    const cr = cached.find((c) => c.metadata.namespace === v.namespace && c.metadata.name === v.kubeName) ?? cached[0]!;
    const { name, namespace } = cr.metadata;
    if (cr.metadata.deletionTimestamp) throw beingDeleted(`sandbox ${v.sandbox.id} ("${name}" in namespace "${namespace}") is being deleted`);
    const current = await this.#lookup.byName(namespace, name);
    if (current && current.metadata.uid === cr.metadata.uid && sandboxIdOf(current) === v.sandbox.id) {
      return [{ ...current, metadata: { ...current.metadata, name, namespace } }];
    }
    return this.#lookup.byId(v.sandbox.id);
  }

  /** The id already has a CR: the same one is an idempotent retry, another one is refused. */
  #idInUse(v: ValidatedSandbox, existing: FoundSandbox[]): SandboxResource {
    const id = v.sandbox.id;
    const cr = existing.find((c) => c.metadata.namespace === v.namespace && c.metadata.name === v.kubeName) ?? existing[0]!;
    const where = `"${cr.metadata.name}" in namespace "${cr.metadata.namespace}"`;
    if (cr.metadata.deletionTimestamp) throw beingDeleted(`sandbox ${id} (${where}) is being deleted`);
    if (cr.metadata.namespace === v.namespace && cr.metadata.name === v.kubeName) {
      log.info("sandbox already exists with the same id; create is idempotent", { sandboxId: id, name: v.kubeName, namespace: v.namespace });
      return cr;
    }
    const gatewayName = cr.metadata.labels?.[LABEL_SANDBOX_NAME];
    throw new DriverError(
      "AlreadyExists",
      `sandbox id ${id} is already used by ${gatewayName ? `sandbox "${gatewayName}" ` : ""}(${where}); one id names one sandbox`,
    );
  }

  /**
   * The API server answered 409: the name is taken, by this sandbox (success: its CR), by another
   * (refused, or ABORTED while that one is being deleted), or by nothing any more ("free").
   */
  async #nameTaken(v: ValidatedSandbox): Promise<SandboxResource | "free"> {
    const { kubeName: name, namespace } = v;
    const holder = await this.#lookup.byName(namespace, name);
    if (!holder) return "free";
    if (sandboxIdOf(holder) === v.sandbox.id && !holder.metadata.deletionTimestamp) {
      log.info("sandbox already exists with the same id; create is idempotent", { sandboxId: v.sandbox.id, name, namespace });
      return holder;
    }
    if (holder.metadata.deletionTimestamp) throw beingDeleted(`sandbox "${name}" in namespace "${namespace}" is being deleted`);
    throw new DriverError("AlreadyExists", `sandbox "${name}" already exists in namespace "${namespace}" for a different sandbox id`);
  }

  /** The create was sent but its reply was lost: what is under the name now says what happened. */
  async #confirmOutcome(v: ValidatedSandbox, err: Error): Promise<SandboxResource> {
    const { kubeName: name, namespace } = v;
    const id = v.sandbox.id;
    let holder: SandboxResource | undefined;
    try {
      holder = await this.#lookup.byName(namespace, name);
    } catch (lookupErr) {
      log.warn("cannot look up a sandbox whose create got no reply", { sandboxId: id, name, namespace, error: (lookupErr as Error).message });
    }
    if (holder && sandboxIdOf(holder) === id) {
      log.info("sandbox created (its create got no reply; found by lookup)", { sandboxId: id, name, namespace, error: err.message });
      return holder;
    }
    if (holder) throw new DriverError("AlreadyExists", `sandbox "${name}" already exists in namespace "${namespace}" for a different sandbox id`);
    throw new DriverError(
      "DeadlineExceeded",
      `outcome unknown: creating sandbox ${id} got no reply (${err.message}) and it is not in the cluster yet, so it may or may not appear; CreateSandbox with the same id is safe to retry`,
    );
  }
}

/**
 * A conflict with a delete in flight, not a duplicate: ABORTED (a concurrency conflict the caller
 * resolves by retrying once the delete finished) rather than UNAVAILABLE, which would read as the
 * driver or the API server being down and invite blind transport-level retries.
 */
function beingDeleted(what: string): DriverError {
  return new DriverError("Aborted", `${what}; retry once it is gone`);
}

/** The request may have reached the API server and been applied, but no reply says whether. */
function outcomeUnknown(err: unknown): err is Error {
  // Cancelled at shutdown after it was sent: the write may have happened all the same.
  if (err instanceof KubeCallCanceled) return true;
  if (!isKubeApiError(err)) return false;
  // A timeout or a connection lost after sending, or a reply that could not be read.
  if (err.status === 0) return !NOT_SENT.has(err.reason);
  if (err.reason === "InvalidResponse") return true;
  // The API server or etcd stopped waiting; the write may still commit.
  return err.status === 504 || err.reason === "Timeout" || err.reason === "ServerTimeout" || (err.status === 500 && /timed out|timeout/i.test(err.detail));
}
