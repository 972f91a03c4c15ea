// Preparing a private Unix socket path: the socket file's permissions are the trust boundary
// between the gateway and this driver, so every step refuses anything it did not create itself.
import { chmodSync, lstatSync, mkdirSync, statSync, unlinkSync, type Stats } from "node:fs";
import { connect } from "node:net";
import { dirname } from "node:path";

export class SocketSetupError extends Error {}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}

/**
 * Makes `socketPath` ready for listen(): its parent directory exists (created 0700 when missing),
 * is a directory owned by us and not writable by others (reached through no symlink but root's or
 * ours); a stale socket of ours is removed, a live one or anything else is refused.
 * We never chmod a directory we did not create: the default parent (/var/run) is shared.
 */
export async function prepareSocketPath(socketPath: string, uid = process.geteuid?.() ?? 0): Promise<void> {
  const parent = dirname(socketPath);
  let dir = lstatOrUndefined(parent);
  if (dir === undefined) {
    mkdirSync(parent, { recursive: true, mode: 0o700 });
    chmodSync(parent, 0o700);
    dir = lstatSync(parent);
  }
  if (dir.isSymbolicLink()) {
    // Distribution links such as /var/run -> /run are root's; a link anyone else owns could be
    // re-pointed under us.
    if (dir.uid !== 0 && dir.uid !== uid) {
      throw new SocketSetupError(`socket directory ${parent} is a symlink owned by uid ${dir.uid}; refusing to use it`);
    }
    dir = statSync(parent);
  }
  if (!dir.isDirectory()) throw new SocketSetupError(`socket directory ${parent} is not a directory`);
  if (dir.uid !== uid) {
    throw new SocketSetupError(`socket directory ${parent} is owned by uid ${dir.uid}, not by this process (uid ${uid})`);
  }
  if ((dir.mode & 0o022) !== 0) {
    throw new SocketSetupError(
      `socket directory ${parent} is writable by group or others (mode ${(dir.mode & 0o777).toString(8)}); use a private directory`,
    );
  }

  const existing = lstatOrUndefined(socketPath);
  if (existing === undefined) return;
  if (!existing.isSocket() || existing.uid !== uid) {
    throw new SocketSetupError(`${socketPath} exists but is not an owned Unix socket; refusing to replace it`);
  }
  if (await isListening(socketPath)) {
    throw new SocketSetupError(`${socketPath} is in use by another running process`);
  }
  unlinkSync(socketPath);
}

export function removeSocket(socketPath: string): void {
  const existing = lstatOrUndefined(socketPath);
  if (existing?.isSocket()) unlinkSync(socketPath);
}
