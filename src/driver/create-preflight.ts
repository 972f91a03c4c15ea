// Everything CreateSandbox refuses, in one place: ValidateSandboxCreate runs exactly this, and
// CreateSandbox runs it before writing anything, so the two cannot drift apart (a GPU count no
// node can satisfy, a missing claim or runtime class, an oversized request, a pod feature the API
// server would silently drop must fail both).
import type { DriverSandbox } from "../gen/compute_driver_pb";
import type { KubeClient } from "../kube";
import { podAsCreated } from "../platform/pod-as-created";
import type { PlatformAdapter, TargetNamespace } from "../platform/types";
import { clusterReferences, renderSandbox, validateSandbox, type SandboxResource, type ValidatedSandbox } from "../sandbox";
import { checkObjectSize } from "../sandbox/object-size";
import type { RenderSettings } from "../sandbox/settings";
import { ClusterReferences } from "./cluster-references";
import { ensureGpuCapacity } from "./gpu-capacity-check";
import { ensureNoLeftoverWorkspaceClaim } from "./leftover-workspace-claim";
import type { SandboxLookup } from "./sandbox-lookup";
import type { PodFeatureGuard } from "./pod-feature-guard";
import type { WorkspaceNamespaces } from "./workspace-namespaces";

export class CreatePreflight {
  readonly #client: KubeClient;
  readonly #settings: RenderSettings;
  readonly #namespaces: WorkspaceNamespaces;
  readonly #platform: PlatformAdapter;
  readonly #references: ClusterReferences;
  readonly #lookup: Pick<SandboxLookup, "byName">;
  readonly #podFeatures: PodFeatureGuard;

  constructor(
    client: KubeClient,
    settings: RenderSettings,
    namespaces: WorkspaceNamespaces,
    platform: PlatformAdapter,
    lookup: Pick<SandboxLookup, "byName">,
    podFeatures: PodFeatureGuard,
  ) {
    this.#client = client;
    this.#lookup = lookup;
    this.#podFeatures = podFeatures;
    this.#settings = settings;
    this.#namespaces = namespaces;
    this.#platform = platform;
    this.#references = new ClusterReferences(client);
  }

  /** Throws what CreateSandbox would refuse; writes nothing. */
  async check(sandbox: DriverSandbox): Promise<ValidatedSandbox> {
    const validated = validateSandbox(sandbox, this.#settings);
    // First, so a missing workspace namespace is reported as that, not as the claims missing in it.
    const target = await this.#namespaces.check(sandbox.workspace, "sandbox.workspace");
    // The sandbox identity comes from the namespace (the sidecar proxy must not share it), and
    // the size is that of what would be written.
    try {
      const resource = this.render(validated, target);
      await Promise.all([
        ensureGpuCapacity(this.#client, validated, this.#settings),
        this.#references.ensureExist(validated.namespace, clusterReferences(validated, this.#settings), {
          workspace: sandbox.workspace,
          workspaceMode: this.#settings.workspaceMode,
        }),
        this.#platform.checkSandbox(resource, target),
        ensureNoLeftoverWorkspaceClaim(this.#client, this.#lookup, validated),
      ]);
      // After the platform's own refusals (an SCC names the exact capability it would not admit).
      this.#podFeatures.checkPod(podAsCreated(resource));
    } catch (err) {
      // The refusal may come from the namespace as read a moment ago (its Pod Security level, its
      // ranges): once the user fixes it, the next call must see the fix.
      this.#namespaces.forgetRecentRead(sandbox.workspace);
      throw err;
    }
    return validated;
  }

  /**
   * The CR to create in this namespace, as the platform needs it; throws if it could not be
   * created. The platform's admission checks are `check`'s (CreateSandbox runs both).
   */
  render(validated: ValidatedSandbox, target: TargetNamespace): SandboxResource {
    const resource = this.#platform.amend(renderSandbox(validated, this.#settings, target.annotations), target);
    checkObjectSize(validated, resource);
    return resource;
  }
}
