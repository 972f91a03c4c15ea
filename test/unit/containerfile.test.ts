// The release image's Containerfile must describe what test/e2e/restricted-runtime.test.ts runs:
// the same binary path and mode, entrypoint and command, and the socket at the flag default.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { envVarFor, FLAGS } from "../../src/config/flags";
import { REPO } from "../support/paths";
import { DEFAULT_SOCKET, IMAGE_BINARY_MODE, IMAGE_BINARY_PATH, IMAGE_CMD, IMAGE_ENTRYPOINT, SOCKET_VOLUME } from "../support/restricted-root";

interface Instruction {
  keyword: string;
  args: string;
}

/** The instructions of the last stage (the image that ships), with continuation lines joined. */
function finalStage(text: string): Instruction[] {
  const lines = text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  const instructions = lines.map((l) => {
    const m = /^(\S+)\s+(.*)$/.exec(l)!;
    return { keyword: m[1]!.toUpperCase(), args: m[2]!.trim() };
  });
  const lastFrom = instructions.map((i) => i.keyword).lastIndexOf("FROM");
  return instructions.slice(lastFrom);
}

const stage = finalStage(readFileSync(join(REPO, "Containerfile"), "utf8"));
const all = (keyword: string) => stage.filter((i) => i.keyword === keyword);
const one = (keyword: string) => {
  const found = all(keyword);
  expect(found.length).toBe(1);
  return found[0]!.args;
};

/** ENV lines as name → value (both `ENV A=b C=d` and `ENV A b`). */
function envOf(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { args } of all("ENV")) {
    if (/^\S+\s/.test(args) && !args.split(/\s/)[0]!.includes("=")) {
      const [name, ...rest] = args.split(/\s+/);
      env[name!] = rest.join(" ");
    } else {
      for (const m of args.matchAll(/(\S+?)=("[^"]*"|\S*)/g)) env[m[1]!] = m[2]!.replace(/^"|"$/g, "");
    }
  }
  return env;
}

describe("the Containerfile agrees with the restricted runtime test", () => {
  test("the shipped stage copies the binary to the path the test runs, owned by root and readable and executable by any UID with GID 0", () => {
    const copy = all("COPY").find((c) => c.args.endsWith(` ${IMAGE_BINARY_PATH}`));
    expect(copy?.args).toBeDefined();
    expect(copy!.args).toContain("--chown=0:0");
    const mode = Number.parseInt(/--chmod=([0-7]+)/.exec(copy!.args)?.[1] ?? "", 8);
    expect(mode.toString(8)).toBe(IMAGE_BINARY_MODE.toString(8));
    expect(mode & 0o050).toBe(0o050); // group 0 (restricted-v2's GID) may read and execute
    expect(mode & 0o022).toBe(0); // no UID the image runs as can replace it
  });

  test("USER is a numeric non-root UID, so Kubernetes' runAsNonRoot can verify it without a passwd file", () => {
    const [uid, gid] = one("USER").split(":");
    expect(uid).toMatch(/^[0-9]+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    if (gid !== undefined) expect(gid).toMatch(/^[0-9]+$/);
  });

  test("ENTRYPOINT and CMD are the binary and `serve`, as the restricted runtime test starts it", () => {
    expect(JSON.parse(one("ENTRYPOINT"))).toEqual(IMAGE_ENTRYPOINT);
    expect(JSON.parse(one("CMD"))).toEqual(IMAGE_CMD);
  });

  test("the image sets no socket path of its own, so the flag default in the shared volume applies", () => {
    const env = envOf();
    for (const name of [envVarFor("socket"), ...FLAGS.socket.aliases]) expect(env[name]).toBeUndefined();
    expect(DEFAULT_SOCKET).toBe(`${SOCKET_VOLUME}/driver/driver.sock`);
  });

  test("the image sets no HOME: the driver must not need one", () => {
    expect(envOf().HOME).toBeUndefined();
  });
});
