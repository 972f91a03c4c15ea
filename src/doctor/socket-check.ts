// Check 10: would serve be able to bind --socket? Judged by the same rules serve binds with
// (inspectSocketDirectory), without creating or binding anything.
import { accessSync, constants, existsSync, lstatSync } from "node:fs";
import { dirname } from "node:path";
import { inspectSocketDirectory } from "../server/private-socket";
import { fail, pass, type CheckResult } from "./checks";

const NAME = "socket directory";

/** The nearest existing ancestor of `path` (the one `mkdir -p` would create below). */
function nearestExisting(path: string): string {
  let dir = path;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export function socketCheck(socketPath: string, uid = process.geteuid?.() ?? 0): CheckResult {
  const parent = dirname(socketPath);
  const fix = "--socket=<a path in a directory only this user owns and may write>";
  const state = inspectSocketDirectory(parent, uid);
  if ("problem" in state) return fail(NAME, state.problem, fix);
  if ("missing" in state) {
    const ancestor = nearestExisting(parent);
    try {
      accessSync(ancestor, constants.W_OK);
    } catch {
      return fail(NAME, `${parent} does not exist and cannot be created: ${ancestor} is not writable by this user`, `mkdir -m 0700 ${parent} as a user who may, owned by this one; or ${fix}`);
    }
    return pass(NAME, `${parent} does not exist yet; serve will create it 0700`);
  }
  let existing;
  try {
    existing = lstatSync(socketPath);
  } catch {
    return pass(NAME, `${parent} is private to this user`);
  }
  if (!existing.isSocket() || existing.uid !== uid) return fail(NAME, `${socketPath} exists but is not an owned Unix socket; serve will refuse to replace it`, `remove ${socketPath}, or ${fix}`);
  return pass(NAME, `${parent} is private to this user; ${socketPath} is a socket of ours (replaced at start when stale, refused when a driver is listening)`);
}
