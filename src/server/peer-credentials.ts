// SO_PEERCRED through libc: Node's net API does not expose the peer of a Unix socket, and the
// gateway-side contract (same-UID peers only) needs it. Linux only; elsewhere we report "unknown".
import { dlopen, FFIType, ptr } from "bun:ffi";

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

type GetSockOpt = (fd: number, level: number, name: number, value: number, length: number) => number;
let getsockopt: GetSockOpt | null | undefined;

function loadGetsockopt(): GetSockOpt | null {
  if (getsockopt !== undefined) return getsockopt;
  getsockopt = null;
  if (process.platform === "linux") {
    try {
      const libc = dlopen("libc.so.6", {
        getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
      });
      getsockopt = libc.symbols.getsockopt as unknown as GetSockOpt;
    } catch {
      getsockopt = null;
    }
  }
  return getsockopt;
}

/** The connecting process's uid, or undefined where the platform does not tell us. */
export function peerUid(socket: unknown): number | undefined {
  const fd = (socket as { _handle?: { fd?: unknown } })._handle?.fd;
  const call = loadGetsockopt();
  if (typeof fd !== "number" || fd < 0 || call === null) return undefined;
  const cred = new Int32Array(3); // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
  const length = new Uint32Array([cred.byteLength]);
  if (call(fd, SOL_SOCKET, SO_PEERCRED, ptr(cred), ptr(length)) !== 0) return undefined;
  return cred[1]! >>> 0;
}
