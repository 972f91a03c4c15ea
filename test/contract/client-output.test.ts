// `openshell-driver-k8s client` prints a whole reply even when its stdout is a slow pipe: a plain
// write followed by exit used to cut it at the pipe's 64 KiB.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DriverSandbox } from "../../src/gen/compute_driver_pb";
import { startGrpcServer, type GrpcServer } from "../../src/server/grpc-server";
import { createMetrics } from "../../src/server/metrics";
import { DRIVER_BIN } from "../support/paths";

const SANDBOXES = 3000;
const dir = mkdtempSync(join(tmpdir(), "osdrv-client-"));
const socket = join(dir, "driver.sock");
let server: GrpcServer;

beforeAll(async () => {
  // A scripted driver: the reply is what matters here, not where it comes from.
  const sandboxes = Array.from({ length: SANDBOXES }, (_, i) => ({
    id: `sandbox-${i}`,
    name: `name-${i}`,
    namespace: "openshell-system",
    status: { sandboxName: `name-${i}`, instanceId: `pod-${i}`, conditions: [{ type: "Ready", status: "True", reason: "x".repeat(300) }] },
  })) as unknown as DriverSandbox[];
  server = await startGrpcServer({
    socketPath: socket,
    service: { listSandboxes: () => ({ sandboxes }) },
    metrics: createMetrics(() => ({})),
    maxRequestBytes: 4 * 1024 * 1024,
  });
});

afterAll(async () => {
  await server.close(0);
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `client … | <slow reader>` in bash with pipefail, so the client's own exit status counts. */
async function clientThroughPipe(reader: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(["bash", "-o", "pipefail", "-c", `"$0" client --socket="$1" ListSandboxes | ${reader}`, DRIVER_BIN, socket], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

describe("client command output", () => {
  test("`client ListSandboxes | cat` prints all of a reply over 1 MiB, as JSON that parses", async () => {
    // The reader starts late, so the pipe is full when the client is ready to exit.
    const { code, stdout, stderr } = await clientThroughPipe("{ sleep 0.5; cat; }");
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout.length).toBeGreaterThan(1024 * 1024);
    const reply = JSON.parse(stdout) as { sandboxes: { id: string }[] };
    expect(reply.sandboxes).toHaveLength(SANDBOXES);
    expect(reply.sandboxes.at(-1)!.id).toBe(`sandbox-${SANDBOXES - 1}`);
  });

  test("a reader that stops early (`| head`) ends the client quietly with SIGPIPE's status", async () => {
    const { code, stdout, stderr } = await clientThroughPipe("head -c 100");
    expect(stdout).toHaveLength(100);
    expect(stderr).toBe("");
    expect(code).toBe(141);
  });
});
