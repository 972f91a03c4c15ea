// Everything CreateSandbox refuses, in one place: ValidateSandboxCreate runs exactly this, and
// CreateSandbox runs it before writing anything, so the two cannot drift apart (a GPU count no
// node can satisfy, a missing claim or runtime class, an oversized request must fail both).
import type { DriverSandbox } from "../gen/compute_driver_pb";
import type { KubeClient } from "../kube";
import { clusterReferences, renderSandbox, validateSandbox, type SandboxResource, type ValidatedSandbox } from "../sandbox";
import { checkObjectSize } from "../sandbox/object-size";
import type { RenderSettings } from "../sandbox/settings";
import { ensureReferencesExist } from "./cluster-references";
import { ensureGpuCapacity } from "./gpu-capacity-check";
import type { WorkspaceNamespaces } from "./workspace-namespaces";

export class CreatePreflight {
  readonly #client: KubeClient;
  readonly #settings: RenderSettings;
  readonly #namespaces: WorkspaceNamespaces;

  constructor(client: KubeClient, settings: RenderSettings, namespaces: WorkspaceNamespaces) {
    this.#client = client;
    this.#settings = settings;
    this.#namespaces = namespaces;
  }

  /** Throws what CreateSandbox would refuse; writes nothing. */
  async check(sandbox: DriverSandbox): Promise<ValidatedSandbox> {
    const validated = validateSandbox(sandbox, this.#settings);
    // First, so a missing workspace namespace is reported as that, not as the claims missing in it.
    const namespaceAnnotations = await this.#namespaces.check(sandbox.workspace, "sandbox.workspace");
    // The sandbox identity comes from the namespace (the sidecar proxy must not share it), and
    // the size is that of what would be written.
    this.render(validated, namespaceAnnotations);
    await Promise.all([
      ensureGpuCapacity(this.#client, validated, this.#settings),
      ensureReferencesExist(this.#client, validated.namespace, clusterReferences(validated, this.#settings)),
    ]);
    return validated;
  }

  /** The CR to create in a namespace with these annotations; throws if it could not be created or run. */
  render(validated: ValidatedSandbox, namespaceAnnotations: Record<string, string>): SandboxResource {
    const resource = renderSandbox(validated, this.#settings, namespaceAnnotations);
    checkObjectSize(validated, resource);
    return resource;
  }
}
