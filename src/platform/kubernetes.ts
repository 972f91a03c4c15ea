// Plain Kubernetes: the rendered Sandbox CR is already what the cluster needs. Pod Security
// admission is checked where the CR is validated, and nothing here adds to it.
import type { SandboxResource } from "../sandbox/types";
import type { Exposure, PlatformSettings } from "./settings";
import { PlatformProblem, type PlatformAdapter, type PlatformIdentity, type SideObject, type TargetNamespace } from "./types";

/** The platform whose API each exposure creates; plain Kubernetes has none of them. */
const EXPOSURE_PLATFORM: Record<Exclude<Exposure, "none">, { platform: string; api: string }> = {
  route: { platform: "OpenShift", api: "a Route (route.openshift.io)" },
  apirule: { platform: "Kyma", api: "an APIRule (gateway.kyma-project.io)" },
  virtualservice: { platform: "Kyma", api: "an Istio VirtualService on the Kyma gateway" },
};

export class KubernetesAdapter implements PlatformAdapter {
  constructor(
    readonly identity: PlatformIdentity,
    private readonly settings: Pick<PlatformSettings, "expose">,
  ) {}

  async preflight(): Promise<void> {
    const { expose } = this.settings;
    if (expose === "none") return;
    const { platform, api } = EXPOSURE_PLATFORM[expose];
    throw new PlatformProblem(
      `--expose ${expose} creates ${api} beside each sandbox, which only ${platform} serves; ` +
        `this cluster is plain Kubernetes (${this.identity.evidence})`,
      `run with --expose none here, or on ${platform} (--platform ${platform.toLowerCase()} or auto)`,
    );
  }

  amend(resource: SandboxResource, _target: TargetNamespace): SandboxResource {
    return resource;
  }

  async checkSandbox(_resource: SandboxResource, _target: TargetNamespace): Promise<void> {}

  async checkNamespace(_target: TargetNamespace): Promise<void> {}

  readonly checksNamespace = false;

  namespaceLabels(): Record<string, string> {
    return {};
  }

  sideObjects(_created: SandboxResource): SideObject[] {
    return [];
  }

  serviceAccountAnnotations(_created: Pick<SandboxResource, "metadata">): Record<string, string> {
    return {};
  }
}
