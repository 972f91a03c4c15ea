// Where a sandbox's Sandbox CR (and so its pod and workspace claim) lives, by workspace mode.
// Pure, so validation, rendering and every lookup agree on one answer.

import type { RenderSettings, WorkspaceMode } from "./settings";

export interface SandboxPlacement {
  namespace: string;
  /** Name of the Sandbox CR, its pod and (prefixed with `workspace-`) its workspace claim. */
  kubeName: string;
}

/** The namespace managed mode creates for a workspace (upstream's `openshell-{gateway}-{workspace}`). */
export function managedNamespaceOf(gatewayId: string, workspace: string): string {
  return `openshell-${gatewayId}-${workspace}`;
}

/** The namespace a workspace's sandboxes live in. */
export function workspaceNamespaceOf(
  workspace: string,
  settings: Pick<RenderSettings, "workspaceMode" | "namespace" | "gatewayId">,
): string {
  const modes: Record<WorkspaceMode, () => string> = {
    shared: () => settings.namespace,
    managed: () => managedNamespaceOf(settings.gatewayId, workspace),
    operator: () => workspace,
  };
  return modes[settings.workspaceMode]();
}

/**
 * Shared mode joins workspace and name so two workspaces never collide in one namespace; the
 * other modes give each workspace its own namespace, so the bare name is unique there.
 */
export function placementOf(
  sandbox: { workspace: string; name: string },
  settings: Pick<RenderSettings, "workspaceMode" | "namespace" | "gatewayId">,
): SandboxPlacement {
  return {
    namespace: workspaceNamespaceOf(sandbox.workspace, settings),
    kubeName: settings.workspaceMode === "shared" ? `${sandbox.workspace}--${sandbox.name}` : sandbox.name,
  };
}
