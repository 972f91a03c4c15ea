// The persistent /sandbox. Stop deletes the pod; a claim from the Sandbox's volumeClaimTemplates
// outlives it, so Start finds the workspace as it was left. The controller names the claim
// `workspace-<sandbox>` and adds the pod volume itself, so the pod spec only mounts it.
// An init container seeds an empty claim once from the image's own /sandbox, so the files the
// image ships there (virtualenvs, shell config) are not hidden by the empty volume.

import type { V1Container, V1PersistentVolumeClaimTemplate, V1VolumeMount } from "@kubernetes/client-node";
import { WORKSPACE_PATH } from "./container-paths";
import type { KubernetesDriverConfig } from "./driver-config";
import { isWorkspaceDataMount } from "./mount-path";
import type { RenderSettings, SandboxIdentity } from "./settings";

export const WORKSPACE_VOLUME = "workspace";
export const WORKSPACE_INIT_CONTAINER = "workspace-init";
/** Where workspace-init sees the claim, leaving the image's own /sandbox visible to copy from. */
const WORKSPACE_INIT_MOUNT_PATH = "/workspace-pvc";
const WORKSPACE_SENTINEL = ".workspace-initialized";

/** A user volume mounted under /sandbox takes over workspace storage, and the driver adds none. */
export function injectsWorkspace(driverConfig: KubernetesDriverConfig): boolean {
  return !driverConfig.agent.volumeMounts.some((m) => isWorkspaceDataMount(m.mountPath));
}

export function workspaceClaimTemplates(
  settings: Pick<RenderSettings, "workspaceStorageSize" | "workspaceStorageClass">,
): V1PersistentVolumeClaimTemplate[] {
  return [
    {
      metadata: { name: WORKSPACE_VOLUME },
      spec: {
        accessModes: ["ReadWriteOnce"],
        resources: { requests: { storage: settings.workspaceStorageSize } },
        ...(settings.workspaceStorageClass !== "" ? { storageClassName: settings.workspaceStorageClass } : {}),
      },
    },
  ];
}

export function workspaceAgentMount(): V1VolumeMount {
  return { name: WORKSPACE_VOLUME, mountPath: WORKSPACE_PATH };
}

/**
 * Copies once, then writes a sentinel so later starts skip it. tar rather than `cp -a`, because
 * images carry self-referential symlinks (e.g. under /sandbox/.uv) that cp trips over; only the
 * directory's entries are archived, so extraction never touches the claim's root; owners, modes and
 * times are not restored. An image without /sandbox just gets the sentinel. The seeded claim is
 * then given to the sandbox user: in the combined topology the pod has no fsGroup (render.ts), so
 * kubelet does not regroup the claim for it; in the sidecar topology kubelet regroups it on every
 * mount anyway, and owning it changes nothing. Claims seeded under an fsGroup before keep that
 * group's read-write bits, and the sandbox user still has that group, so they stay writable.
 */
function workspaceSeedScript(identity: SandboxIdentity): string {
  const pvc = WORKSPACE_INIT_MOUNT_PATH;
  const sentinel = `${pvc}/${WORKSPACE_SENTINEL}`;
  return [
    `if [ ! -f ${sentinel} ]; then`,
    `if [ -d ${WORKSPACE_PATH} ]; then`,
    `tmp=$(mktemp) && rm -f "$tmp" &&`,
    `(cd ${WORKSPACE_PATH} && find . -mindepth 1 -maxdepth 1 -exec tar -cf "$tmp" {} +) &&`,
    `if [ -f "$tmp" ]; then`,
    `tar -C ${pvc} --no-same-owner --no-same-permissions --touch -xf "$tmp" &&`,
    `rm -f "$tmp";`,
    "fi;",
    "fi &&",
    `chown -R ${identity.uid}:${identity.gid} ${pvc} &&`,
    `touch ${sentinel};`,
    "fi",
  ].join(" ");
}

/** Runs the agent image, as root as upstream does, so it can write a claim kubelet just created. */
export function workspaceInitContainer(image: string, settings: Pick<RenderSettings, "imagePullPolicy">, identity: SandboxIdentity): V1Container {
  return {
    name: WORKSPACE_INIT_CONTAINER,
    image,
    ...(settings.imagePullPolicy !== "" ? { imagePullPolicy: settings.imagePullPolicy } : {}),
    command: ["sh", "-c", workspaceSeedScript(identity)],
    securityContext: { runAsUser: 0 },
    volumeMounts: [{ name: WORKSPACE_VOLUME, mountPath: WORKSPACE_INIT_MOUNT_PATH }],
  };
}
