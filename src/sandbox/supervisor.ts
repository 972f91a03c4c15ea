// How the openshell-sandbox supervisor binary gets into the agent container. The agent image is the
// user's, so the binary is side-loaded from settings.supervisorImage: either copied by an init
// container into an emptyDir, or mounted straight from the image as an image volume (k8s >= 1.33).

import type { V1Container, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { trimTrailingSlash } from "./mount-path";
import type { RenderSettings } from "./settings";

export const SUPERVISOR_VOLUME = "openshell-supervisor-bin";
export const SUPERVISOR_INIT_CONTAINER = "openshell-supervisor-install";
export const SUPERVISOR_BINARY_NAME = "openshell-sandbox";

type SupervisorSettings = Pick<
  RenderSettings,
  "supervisorImage" | "supervisorBinaryPath" | "supervisorMountPath" | "supervisorSideload"
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
export function supervisorBinaryInContainer(settings: SupervisorSettings): string {
  const dir = trimTrailingSlash(settings.supervisorMountPath);
  const name =
    settings.supervisorSideload === "image-volume" ? basename(settings.supervisorBinaryPath) : SUPERVISOR_BINARY_NAME;
  return `${dir === "/" ? "" : dir}/${name}`;
}

export function supervisorVolume(settings: SupervisorSettings): V1Volume {
  if (settings.supervisorSideload === "image-volume") {
    return { name: SUPERVISOR_VOLUME, image: { reference: settings.supervisorImage } };
  }
  return { name: SUPERVISOR_VOLUME, emptyDir: {} };
}

export function supervisorAgentMount(settings: SupervisorSettings): V1VolumeMount {
  const mount: V1VolumeMount = {
    name: SUPERVISOR_VOLUME,
    mountPath: trimTrailingSlash(settings.supervisorMountPath),
    readOnly: true,
  };
  if (settings.supervisorSideload === "image-volume") {
    // Image volumes accept subPath since Kubernetes 1.33; mount only the binary's directory.
    const subPath = dirname(settings.supervisorBinaryPath).replace(/^\/+/, "");
    if (subPath !== "") mount.subPath = subPath;
  }
  return mount;
}

export function supervisorInitContainers(settings: SupervisorSettings): V1Container[] {
  if (settings.supervisorSideload !== "init-container") return [];
  const mountPath = trimTrailingSlash(settings.supervisorMountPath);
  return [
    {
      name: SUPERVISOR_INIT_CONTAINER,
      image: settings.supervisorImage,
      command: [settings.supervisorBinaryPath, "copy-self", supervisorBinaryInContainer(settings)],
      // No runAsUser: OpenShift's restricted SCC assigns one from the namespace range, and copying
      // into an emptyDir needs no privilege at all.
      securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
      volumeMounts: [{ name: SUPERVISOR_VOLUME, mountPath }],
    },
  ];
}
