// Objects a platform puts beside a sandbox (a Service and Route on OpenShift, a Service, APIRule or
// VirtualService and NetworkPolicy on Kyma) and annotations on the sandbox ServiceAccount. They
// make a sandbox reachable but are not the sandbox: a failure is a Warning event on the CR and a
// log line, never a failed create. Owner references hand their deletion to the garbage collector;
// only the ServiceAccount annotations, on an object the sandbox does not own, are removed here.
import { isKubeApiError, type KubeClient } from "../kube";
import { logger } from "../log";
import type { PlatformAdapter, SideObject } from "../platform/types";
import { sandboxIdOf, type SandboxResource } from "../sandbox";
import { namespacedPath } from "./kube-paths";
import { recordWarning } from "./warning-events";

const log = logger("platform");

export const EXPOSURE_FAILED = "ExposureFailed";

export class SandboxSideObjects {
  readonly #client: KubeClient;
  readonly #platform: PlatformAdapter;
  readonly #serviceAccountName: string;

  constructor(client: KubeClient, platform: PlatformAdapter, serviceAccountName: string) {
    this.#client = client;
    this.#platform = platform;
    this.#serviceAccountName = serviceAccountName;
  }

  /** After the CR exists (again, on an idempotent retry): creates what is missing. Never throws. */
  async create(created: SandboxResource): Promise<void> {
    const failures: string[] = [];
    let objects: SideObject[];
    try {
      objects = this.#platform.sideObjects(created);
    } catch (err) {
      failures.push((err as Error).message);
      objects = [];
    }
    for (const object of objects) {
      const { name, namespace } = object.body.metadata;
      try {
        await this.#client.request({ verb: "create", path: object.path, body: object.body, resource: object.resource, namespace, name });
        log.info("created beside the sandbox", { sandboxId: sandboxIdOf(created), resource: object.resource, name, namespace });
      } catch (err) {
        // Already there: a retried create, and the object is owned by this CR or an older one
        // of the same name, which the garbage collector removes with it.
        if (isKubeApiError(err, 409)) continue;
        failures.push(`${object.resource} "${name}": ${(err as Error).message}`);
      }
    }
    const annotations = this.#platform.serviceAccountAnnotations(created);
    if (Object.keys(annotations).length > 0) {
      try {
        await this.#patchServiceAccount(created, annotations);
      } catch (err) {
        failures.push(`annotations of ServiceAccount "${this.#serviceAccount()}": ${(err as Error).message}`);
      }
    }
    if (failures.length === 0) return;
    const message = `cannot expose the sandbox (${this.#platform.identity.name}): ${failures.join("; ")}`;
    log.warn(message, { sandboxId: sandboxIdOf(created), name: created.metadata.name, namespace: created.metadata.namespace });
    await recordWarning(this.#client, created, EXPOSURE_FAILED, message);
  }

  /** After the CR's delete: the ServiceAccount annotations it added (named by its metadata). Best effort, never throws. */
  async forget(deleted: Pick<SandboxResource, "metadata">): Promise<void> {
    let annotations: Record<string, string>;
    try {
      annotations = this.#platform.serviceAccountAnnotations(deleted);
    } catch {
      return;
    }
    if (Object.keys(annotations).length === 0) return;
    const removal = Object.fromEntries(Object.keys(annotations).map((key) => [key, null]));
    try {
      await this.#patchServiceAccount(deleted, removal);
    } catch (err) {
      // A leftover reference to a deleted Route redirects nowhere; it is noise, not exposure.
      log.warn("cannot remove the sandbox's ServiceAccount annotations", { name: deleted.metadata.name, error: (err as Error).message });
    }
  }

  async #patchServiceAccount(sandbox: Pick<SandboxResource, "metadata">, annotations: Record<string, string | null>): Promise<void> {
    const namespace = sandbox.metadata.namespace ?? "";
    const name = this.#serviceAccount();
    await this.#client.request({
      verb: "patch",
      patchType: "merge",
      path: `${namespacedPath(namespace, "serviceaccounts")}/${name}`,
      body: { metadata: { annotations } },
      resource: "serviceaccounts",
      namespace,
      name,
    });
  }

  #serviceAccount(): string {
    return this.#serviceAccountName === "" ? "default" : this.#serviceAccountName;
  }
}
