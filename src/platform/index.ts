// The platform adapters' public surface: detection, and the one adapter the detected platform gets.
import type { KubeClient } from "../kube";
import type { RenderSettings } from "../sandbox/settings";
import { KubernetesAdapter } from "./kubernetes";
import { KymaAdapter } from "./kyma/adapter";
import { OpenShiftAdapter } from "./openshift/adapter";
import { referencePod } from "./reference-pod";
import type { PlatformSettings } from "./settings";
import type { PlatformAdapter, PlatformIdentity } from "./types";

export { detectPlatform } from "./detect";
export type { PlatformAdapter, PlatformIdentity, TargetNamespace } from "./types";
export { PlatformProblem } from "./types";

export interface PlatformAdapterOptions {
  client: KubeClient;
  identity: PlatformIdentity;
  platform: PlatformSettings;
  /** With the Sandbox API version already detected. */
  render: RenderSettings;
}

export function createPlatformAdapter({ client, identity, platform, render }: PlatformAdapterOptions): PlatformAdapter {
  switch (identity.name) {
    case "kubernetes":
      return new KubernetesAdapter(identity, platform);
    case "openshift":
      return new OpenShiftAdapter({ client, identity, platform, render });
    case "kyma":
      return new KymaAdapter({ client, identity, platform, render, referencePod: referencePod(render) });
  }
}
