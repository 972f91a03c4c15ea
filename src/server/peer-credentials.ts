// SO_PEERCRED through libc: Node's net API does not expose the peer of a Unix socket, and the
// gateway-side contract (same-UID peers only) needs it. Linux only; elsewhere the socket file's
// 0600 mode is the only boundary, which the server says once at start-up.
import { dlopen, FFIType, ptr } from "bun:ffi";

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

/** The uid of the process at the other end of a connected Unix socket; throws when it cannot be read. */
export type PeerUidReader = (socket: unknown) => number;

/** How this process learns who connected: a reader, or why the platform gives none. */
export type PeerCredentials = { read: PeerUidReader } | { unavailable: string };

export class PeerCredentialsError extends Error {}

type GetSockOpt = (fd: number, level: number, name: number, value: number, length: number) => number;

function loadGetsockopt(): GetSockOpt | string {
  if (process.platform !== "linux") return `SO_PEERCRED is Linux-only (this is ${process.platform})`;
  try {
    const libc = dlopen("libc.so.6", {
      getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    });
    return libc.symbols.getsockopt as unknown as GetSockOpt;
  } catch (err) {
    return `cannot load getsockopt from libc.so.6: ${(err as Error).message}`;
  }
}

/** SO_PEERCRED where the platform has it. */
export function platformPeerCredentials(): PeerCredentials {
  const getsockopt = loadGetsockopt();
  if (typeof getsockopt === "string") return { unavailable: getsockopt };
  return {
    read(socket) {
      const fd = (socket as { _handle?: { fd?: unknown } })._handle?.fd;
      if (typeof fd !== "number" || fd < 0) throw new PeerCredentialsError("the connection exposes no file descriptor");
      const cred = new Int32Array(3); // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
      const length = new Uint32Array([cred.byteLength]);
      if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ptr(cred), ptr(length)) !== 0) {
        throw new PeerCredentialsError("getsockopt(SO_PEERCRED) failed");
      }
      if (length[0] !== cred.byteLength) throw new PeerCredentialsError(`getsockopt(SO_PEERCRED) returned ${length[0]} bytes`);
      return cred[1]! >>> 0;
    },
  };
}
