// Preparing a private Unix socket path: the socket file's permissions are the trust boundary
// between the gateway and this driver, so every step refuses anything it did not create itself.
import { randomBytes } from "node:crypto";
import { chmodSync, linkSync, lstatSync, mkdirSync, statSync, unlinkSync, type Stats } from "node:fs";
import { connect, type Server } from "node:net";
import { dirname, join } from "node:path";

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

/** What `inspectSocketDirectory` found: a directory to create, one to refuse (and why), or a usable one. */
export type SocketDirectoryState = { missing: true } | { problem: string } | { usable: true };

/**
 * Whether `parent` may hold a private socket, without changing anything: a directory owned by
 * `uid` and not writable by others, reached through no symlink but root's or ours. Shared by
 * `prepareSocketPath` and `doctor`, so both judge a directory by the same rules.
 */
export function inspectSocketDirectory(parent: string, uid: number): SocketDirectoryState {
  let dir = lstatOrUndefined(parent);
  if (dir === undefined) return { missing: true };
  if (dir.isSymbolicLink()) {
    // Distribution links such as /var/run -> /run are root's; a link anyone else owns could be
    // re-pointed under us.
    if (dir.uid !== 0 && dir.uid !== uid) {
      return { problem: `socket directory ${parent} is a symlink owned by uid ${dir.uid}; refusing to use it` };
    }
    dir = statSync(parent);
  }
  if (!dir.isDirectory()) return { problem: `socket directory ${parent} is not a directory` };
  if (dir.uid !== uid) return { problem: `socket directory ${parent} is owned by uid ${dir.uid}, not by this process (uid ${uid})` };
  if ((dir.mode & 0o022) !== 0) {
    return { problem: `socket directory ${parent} is writable by group or others (mode ${(dir.mode & 0o777).toString(8)}); use a private directory` };
  }
  return { usable: true };
}

/**
 * Makes `socketPath` ready for listen(): its parent directory exists (created 0700 when missing)
 * and passes `inspectSocketDirectory`; a stale socket of ours is removed, a live one or anything
 * else is refused. We never chmod a directory we did not create: the default parent (/var/run) is shared.
 */
export async function prepareSocketPath(socketPath: string, uid = process.geteuid?.() ?? 0): Promise<void> {
  const parent = dirname(socketPath);
  let state = inspectSocketDirectory(parent, uid);
  if ("missing" in state) {
    mkdirSync(parent, { recursive: true, mode: 0o700 });
    chmodSync(parent, 0o700);
    state = inspectSocketDirectory(parent, uid);
  }
  if ("problem" in state) throw new SocketSetupError(state.problem);
  if ("missing" in state) throw new SocketSetupError(`socket directory ${parent} disappeared while it was being created`);

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

/** sun_path holds 108 bytes including the terminating NUL on Linux. */
const MAX_SOCKET_PATH_BYTES = 107;

/** A socket file this process bound, known by its inode so that only it is ever removed. */
export interface BoundSocket {
  readonly path: string;
  /** Unlinks the path if it still is the socket bound here; a newer instance's socket stays. */
  remove(): void;
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

function listen(server: Server, path: string): Promise<void> {
  // The socket must never exist with looser permissions, not even between listen() and chmod().
  const previousUmask = process.umask(0o177);
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  }).finally(() => process.umask(previousUmask));
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Binds `server` to `socketPath` (prepared as above), mode 0600. The server listens on a private
 * temporary name that is then hard-linked into place: the runtime unlinks the name it listened on
 * when the server closes, and that must never be `socketPath`, which by then may be a newer
 * instance's socket. The link also refuses to replace anything that appeared meanwhile.
 * Nothing is left behind when binding fails.
 */
export async function bindPrivateSocket(server: Server, socketPath: string, uid = process.geteuid?.() ?? 0): Promise<BoundSocket> {
  await prepareSocketPath(socketPath, uid);
  const temporary = join(dirname(socketPath), `.${randomBytes(6).toString("hex")}`);
  if (Buffer.byteLength(temporary) > MAX_SOCKET_PATH_BYTES) {
    throw new SocketSetupError(`socket directory ${dirname(socketPath)} leaves no room for a temporary socket name (at most ${MAX_SOCKET_PATH_BYTES} bytes); use a shorter path`);
  }
  await listen(server, temporary);
  let bound: Stats;
  try {
    chmodSync(temporary, 0o600);
    try {
      linkSync(temporary, socketPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") {
        throw new SocketSetupError(`${socketPath} appeared while this process was binding; is another driver starting?`);
      }
      throw err;
    }
    bound = lstatSync(socketPath);
  } catch (err) {
    await closeServer(server);
    throw err;
  } finally {
    unlinkQuietly(temporary);
  }
  return {
    path: socketPath,
    remove() {
      const current = lstatOrUndefined(socketPath);
      if (current?.isSocket() && current.dev === bound.dev && current.ino === bound.ino) unlinkQuietly(socketPath);
    },
  };
}
