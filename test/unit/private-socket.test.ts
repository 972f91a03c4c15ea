// Binding the private socket: only the socket this process bound is ever removed, and a failed
// bind leaves nothing behind.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bindPrivateSocket, SocketSetupError } from "../../src/server/private-socket";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "osdrv-sock-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A server that answers every connection with "<name>\n", closed after the test. */
function namedServer(name: string): Server {
  const server = createServer((conn) => conn.end(`${name}\n`));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return server;
}

function whoAnswers(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    connect(path)
      .on("data", (chunk) => (text += chunk))
      .on("end", () => resolve(text.trim()))
      .on("error", reject);
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

describe("private socket", () => {
  test("the socket is 0600 and nothing else is left in its directory", async () => {
    const dir = scratchDir();
    const socket = join(dir, "driver.sock");
    await bindPrivateSocket(namedServer("a"), socket);
    expect(lstatSync(socket).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(["driver.sock"]);
    expect(await whoAnswers(socket)).toBe("a");
  });

  test("an old instance shutting down leaves a newer instance's socket at the same path alone", async () => {
    const dir = scratchDir();
    const socket = join(dir, "driver.sock");
    const old = namedServer("old");
    const oldSocket = await bindPrivateSocket(old, socket);
    // Someone moved the old socket aside and a newer instance bound the path.
    renameSync(socket, join(dir, "old.sock"));
    await bindPrivateSocket(namedServer("new"), socket);

    await close(old);
    oldSocket.remove();
    expect(await whoAnswers(socket)).toBe("new");
  });

  test("an instance removes its own socket on shutdown", async () => {
    const dir = scratchDir();
    const socket = join(dir, "driver.sock");
    const server = namedServer("a");
    const bound = await bindPrivateSocket(server, socket);
    await close(server);
    bound.remove();
    expect(readdirSync(dir)).toEqual([]);
  });

  test("a live socket at the path is refused and nothing is left of the attempt", async () => {
    const dir = scratchDir();
    const socket = join(dir, "driver.sock");
    await bindPrivateSocket(namedServer("first"), socket);
    const attempt = bindPrivateSocket(namedServer("second"), socket);
    await expect(attempt).rejects.toThrow(SocketSetupError);
    await expect(attempt).rejects.toThrow("in use by another running process");
    expect(readdirSync(dir)).toEqual(["driver.sock"]);
    expect(await whoAnswers(socket)).toBe("first");
  });

  test("a path too long for a temporary name next to it is refused before anything is bound", async () => {
    const dir = scratchDir();
    const deep = join(dir, "d".repeat(Math.max(1, 100 - dir.length)));
    mkdirSync(deep, { mode: 0o700 });
    const socket = join(deep, "s");
    await expect(bindPrivateSocket(namedServer("a"), socket)).rejects.toThrow("no room for a temporary socket name");
    expect(readdirSync(deep)).toEqual([]);
    expect(existsSync(socket)).toBe(false);
  });
});
