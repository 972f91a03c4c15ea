// Where a user volume may be mounted in the agent container. The supervisor's own files, sockets
// and credentials live under fixed paths; a user mount on, under or above one of them would shadow
// them and break (or subvert) the sandbox, so overlap in either direction is refused (upstream
// `validate_container_mount_target` plus the driver's protected ServiceAccount-token path).

import { SA_TOKEN_DIR, WORKSPACE_PATH } from "./container-paths";

/** Paths owned by OpenShell inside the agent container (the supervisor mount path is added per driver). */
export const RESERVED_MOUNT_PATHS = [
  "/opt/openshell",
  "/etc/openshell",
  "/etc/openshell-tls",
  "/run/openshell",
  "/run/openshell-sidecar",
  "/run/netns",
  "/var/run/netns",
  SA_TOKEN_DIR,
] as const;

/** Drops a trailing slash so "/opt/x/" and "/opt/x" compare equal. */
export function trimTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

function isWithin(path: string, parent: string): boolean {
  return path === parent || path.startsWith(`${parent}/`);
}

/**
 * A user mount at or under /sandbox owns the workspace (upstream `has_explicit_sandbox_data_mount`);
 * /sandbox itself and its ancestors are refused by checkMountPath, so this means "strictly under".
 */
export function isWorkspaceDataMount(mountPath: string): boolean {
  return isWithin(mountPath, WORKSPACE_PATH);
}

/** Problems with an absolute, normalized path inside a container. */
export function checkContainerPath(path: string): string | undefined {
  if (path.length === 0) return "must not be empty";
  if (path.trim() !== path) return "must not have leading or trailing whitespace";
  if (/[\u0000-\u001f\u007f]/.test(path)) return "must not contain control characters";
  if (!path.startsWith("/")) return `path '${path}' must be absolute`;
  if (path === "/") return "path '/' is not allowed";
  const segments = path.slice(1).split("/");
  if (segments.some((s) => s === "" || s === "." || s === "..")) {
    return `path '${path}' must be normalized: no empty, '.' or '..' segments`;
  }
  return undefined;
}

/** Problems with a user mount target, as upstream reports them. */
export function checkMountPath(path: string, reserved: readonly string[]): string | undefined {
  const badPath = checkContainerPath(path);
  if (badPath) return badPath;
  for (const r of reserved) {
    if (isWithin(path, r) || isWithin(r, path)) {
      return `mount path '${path}' conflicts with reserved OpenShell path '${r}'`;
    }
  }
  // Replacing the workspace (or a directory above it) would hide the supervisor's working
  // directory; a mount below it is the user taking over workspace storage.
  if (isWithin(WORKSPACE_PATH, path)) {
    return `mount path '${path}' is reserved for the OpenShell workspace`;
  }
  return undefined;
}

export function checkSubPath(subPath: string): string | undefined {
  if (subPath.length === 0) return "must not be empty when set";
  if (/[\s\u0000]/.test(subPath)) return "must not contain whitespace or NUL";
  if (subPath.startsWith("/") || subPath.split("/").includes("..")) {
    return "mount subpath must be relative and must not contain '..'";
  }
  return undefined;
}
