// The release image's layout, shared by the Containerfile test and the restricted runtime test so
// both check the same facts, and a bubblewrap (bwrap) jail that runs the compiled binary the way
// OpenShift's restricted-v2 runs the image: an arbitrary UID with GID 0, no capabilities, no
// passwd entry (so no HOME), a read-only root holding only the image's files, an emptyDir /tmp and
// the socket emptyDir (mode 0777) shared with the gateway.
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { FLAGS } from "../../src/config/flags";

/** Where the Containerfile puts the binary, and the mode it gives it: read and execute for all, group 0 included. */
export const IMAGE_BINARY_PATH = "/usr/local/bin/openshell-driver-k8s";
export const IMAGE_BINARY_MODE = 0o555;
export const IMAGE_ENTRYPOINT = [IMAGE_BINARY_PATH];
export const IMAGE_CMD = ["serve"];
/** The emptyDir the deployment shares between gateway and driver; the driver makes its private subdirectory in it. */
export const SOCKET_VOLUME = "/var/run/openshell-compute";
export const DEFAULT_SOCKET = FLAGS.socket.fallback;
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** A UID from an OpenShift namespace's range, with the GID restricted-v2 gives every container. */
export const RESTRICTED_UID = 1000680000;
export const RESTRICTED_GID = 0;

/** bwrap's absolute path; fails loudly, since a skipped restricted test proves nothing. */
export function bwrapPath(): string {
  const found = Bun.which("bwrap");
  if (!found) throw new Error("bwrap is not installed: run ./dev (it installs the Debian package bubblewrap)");
  return found;
}

/** The loader and shared objects `ldd` lists for `binary`, by the paths the binary asks for. */
export function linkedLibraries(binary: string): string[] {
  const proc = Bun.spawnSync(["ldd", binary], { stdout: "pipe", stderr: "pipe" });
  if (proc.exitCode !== 0) throw new Error(`ldd ${binary} failed: ${proc.stderr.toString()}`);
  const paths: string[] = [];
  for (const line of proc.stdout.toString().split("\n")) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) paths.push(m[1]!);
  }
  if (paths.length === 0) throw new Error(`ldd ${binary} listed no libraries:\n${proc.stdout.toString()}`);
  return paths;
}

/**
 * A root filesystem holding only what the image holds: the binary at the image's path and mode,
 * the glibc files it links (what distroless base-nossl adds), and the empty mount points the
 * container runtime would create. Owned by root, as the image's files are; the jail maps no
 * UID to root, so the driver reads its own binary through the "other"/group-0 permission bits.
 */
export function buildRestrictedRoot(binary: string): string {
  const root = mkdtempSync(join(tmpdir(), "osdrv-restricted-root-"));
  const place = (hostPath: string, at: string, mode: number) => {
    mkdirSync(join(root, dirname(at)), { recursive: true });
    copyFileSync(hostPath, join(root, at));
    chmodSync(join(root, at), mode);
  };
  place(binary, IMAGE_BINARY_PATH, IMAGE_BINARY_MODE);
  for (const lib of linkedLibraries(binary)) place(lib, lib, 0o755);
  for (const mountPoint of ["/proc", "/dev", "/tmp", SOCKET_VOLUME, SERVICE_ACCOUNT_DIR]) {
    mkdirSync(join(root, mountPoint), { recursive: true });
  }
  chmodSync(root, 0o755);
  return root;
}

/** A host directory standing in for the shared socket emptyDir: root-owned, mode 0777, as the kubelet makes it. */
export function makeSocketVolume(): string {
  const volume = mkdtempSync(join(tmpdir(), "osdrv-socket-volume-"));
  chownSync(volume, 0, 0);
  chmodSync(volume, 0o777);
  return volume;
}

export interface JailOptions {
  root: string;
  socketVolume: string;
  /** Host directory bound read-only at the service account path. */
  serviceAccount?: string;
  /** The container's whole environment; HOME is never added. */
  env: Record<string, string>;
  argv: string[];
  /** Host UID the jailed process runs as; RESTRICTED_UID unless a test needs another user. */
  hostUid?: number;
}

/**
 * The command that runs `argv` jailed. The test runs as root, and bwrap started by root would map
 * the jail's UID to host root, so `setpriv` first drops to a real unprivileged host UID (the same
 * number as inside, so the owner a test sees on the host is the UID the driver had in the jail).
 * Network is the host's, so 127.0.0.1 reaches the local API server as the pod network would.
 */
export function jailCommand(opts: JailOptions): string[] {
  const hostUid = opts.hostUid ?? RESTRICTED_UID;
  const cmd = [
    "setpriv", `--reuid=${hostUid}`, `--regid=${RESTRICTED_GID}`, "--clear-groups",
    bwrapPath(),
    "--unshare-user", "--uid", String(RESTRICTED_UID), "--gid", String(RESTRICTED_GID),
    "--cap-drop", "ALL", "--unshare-pid", "--new-session", "--die-with-parent",
    "--ro-bind", opts.root, "/",
    "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
    "--bind", opts.socketVolume, SOCKET_VOLUME,
  ];
  if (opts.serviceAccount) cmd.push("--ro-bind", opts.serviceAccount, SERVICE_ACCOUNT_DIR);
  cmd.push("--chdir", "/", "--clearenv");
  for (const [name, value] of Object.entries(opts.env)) cmd.push("--setenv", name, value);
  return [...cmd, "--", ...opts.argv];
}
