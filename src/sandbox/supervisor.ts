// How the openshell-sandbox supervisor binary gets into the agent container. The agent image is the
// user's, so the binary is side-loaded from settings.supervisorImage: either copied by an init
// container into an emptyDir, or mounted straight from the image as an image volume (ImageVolume: on by default from
// Kubernetes 1.35; the driver refuses it where the API server would drop it, pod-features.ts).
// The published supervisor image (distroless, no shell) holds the binary at its root,
// `/openshell-sandbox`, which is the default supervisorBinaryPath.

import type { V1Container, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { trimTrailingSlash } from "./mount-path";
import type { RenderSettings } from "./settings";

export const SUPERVISOR_VOLUME = "openshell-supervisor-bin";
export const SUPERVISOR_INIT_CONTAINER = "openshell-supervisor-install";
const SUPERVISOR_BINARY_NAME = "openshell-sandbox";

type SupervisorSettings = Pick<
  RenderSettings,
  "supervisorImage" | "supervisorImagePullPolicy" | "supervisorBinaryPath" | "supervisorMountPath" | "supervisorSideload"
>;

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function dirname(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? "/" : path.slice(0, slash);
}

/**
 * Where the agent finds the supervisor binary. The init container copies it under its canonical
 * name; an image volume exposes the binary's own directory, so the file keeps its name in the image.
 */
export function supervisorBinaryInContainer(
  settings: Pick<RenderSettings, "supervisorBinaryPath" | "supervisorMountPath" | "supervisorSideload">,
): string {
  const dir = trimTrailingSlash(settings.supervisorMountPath);
  const name =
    settings.supervisorSideload === "image-volume" ? basename(settings.supervisorBinaryPath) : SUPERVISOR_BINARY_NAME;
  return `${dir === "/" ? "" : dir}/${name}`;
}

/** The pull policy every container and volume taken from the supervisor image carries. */
export function supervisorPullPolicy(settings: Pick<RenderSettings, "supervisorImagePullPolicy">): Pick<V1Container, "imagePullPolicy"> {
  return settings.supervisorImagePullPolicy !== "" ? { imagePullPolicy: settings.supervisorImagePullPolicy } : {};
}

export function supervisorVolume(settings: SupervisorSettings): V1Volume {
  if (settings.supervisorSideload === "image-volume") {
    const image: V1Volume["image"] = { reference: settings.supervisorImage };
    if (settings.supervisorImagePullPolicy !== "") image.pullPolicy = settings.supervisorImagePullPolicy;
    return { name: SUPERVISOR_VOLUME, image };
  }
  return { name: SUPERVISOR_VOLUME, emptyDir: {} };
}

export function supervisorAgentMount(
  settings: Pick<RenderSettings, "supervisorBinaryPath" | "supervisorMountPath" | "supervisorSideload">,
): V1VolumeMount {
  const mount: V1VolumeMount = {
    name: SUPERVISOR_VOLUME,
    mountPath: trimTrailingSlash(settings.supervisorMountPath),
    readOnly: true,
  };
  if (settings.supervisorSideload === "image-volume") {
    // The published image keeps the binary at its root, so the whole image is mounted, as upstream
    // does. An image with the binary deeper is mounted from that directory (image volumes accept
    // subPath since Kubernetes 1.33).
    const subPath = dirname(settings.supervisorBinaryPath).replace(/^\/+/, "");
    if (subPath !== "") mount.subPath = subPath;
  }
  return mount;
}

/** Init-container sideload: the supervisor copies itself into the shared emptyDir (`copy-self`). */
export function supervisorInstallContainers(settings: SupervisorSettings): V1Container[] {
  if (settings.supervisorSideload !== "init-container") return [];
  const mountPath = trimTrailingSlash(settings.supervisorMountPath);
  return [
    {
      name: SUPERVISOR_INIT_CONTAINER,
      image: settings.supervisorImage,
      ...supervisorPullPolicy(settings),
      command: [settings.supervisorBinaryPath, "copy-self", supervisorBinaryInContainer(settings)],
      // Root as upstream runs it, whatever the supervisor image's USER is. Nothing more is needed:
      // a fresh emptyDir is world-writable (0777), so copying into it and setting the mode of the
      // file it created needs no capability; privilege escalation stays off and every capability
      // is dropped.
      securityContext: { runAsUser: 0, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
      volumeMounts: [{ name: SUPERVISOR_VOLUME, mountPath }],
    },
  ];
}
