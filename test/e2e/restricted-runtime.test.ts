// The compiled binary under the conditions OpenShift's restricted-v2 gives the release image,
// recreated with bubblewrap: a real unprivileged host UID (1000680000, the same inside the jail)
// with GID 0 and no capabilities, no HOME, a read-only root holding only the binary and the glibc
// files it links, a tmpfs /tmp, the socket volume (mode 0777) and the service account files. The
// driver finds the cluster the in-cluster way and serves on its DEFAULT socket path.
//
// What this does not prove: that the image itself builds and runs (its layout is checked against
// the same constants by test/unit/containerfile.test.ts; the glibc files here are the host's
// Debian 12 ones, not base-nossl-debian12's copies); seccomp (RuntimeDefault), SELinux labels and
// cgroup limits are not applied; the network namespace is the host's (the API server is reached
// on 127.0.0.1, not through a Service IP); emptyDir ownership from an fsGroup is not modelled.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { create, toJson } from "@bufbuild/protobuf";
import type { Subprocess } from "bun";
import { CreateSandboxRequestSchema } from "../../src/gen/compute_driver_pb";
import { CLUSTER_DIR, DRIVER_BIN } from "../support/paths";
import { clusterState, driverKubeconfig, eventually, kubectl, kubectlJson } from "../support/cluster";
import { sandboxRequest, uniqueName } from "../support/requests";
import {
  buildRestrictedRoot,
  bwrapPath,
  DEFAULT_SOCKET,
  IMAGE_BINARY_PATH,
  IMAGE_CMD,
  IMAGE_ENTRYPOINT,
  jailCommand,
  makeSocketVolume,
  RESTRICTED_GID,
  RESTRICTED_UID,
  SOCKET_VOLUME,
} from "../support/restricted-root";

const NS = "openshell-system";
const GATEWAY_ID = `restricted-${Date.now().toString(36)}`;

let root: string;
let volume: string;
let serviceAccount: string;
let healthUrl: string;
let driver: Subprocess<"ignore", "pipe", "pipe">;
const output: string[] = [];
const logs = () => output.join("");

async function drain(stream: ReadableStream<Uint8Array>): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) output.push(decoder.decode(chunk, { stream: true }));
}

async function freePort(): Promise<number> {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

/** The files kubelet projects for the driver's least-privileged ServiceAccount (deploy/rbac.yaml). */
function serviceAccountFiles(): string {
  driverKubeconfig(); // applies deploy/rbac.yaml, which creates the ServiceAccount
  const dir = mkdtempSync(join(tmpdir(), "osdrv-sa-"));
  writeFileSync(join(dir, "token"), kubectl(["create", "token", "openshell-driver", "-n", NS, "--duration=10m"]).trim());
  copyFileSync(join(CLUSTER_DIR, "pki/ca.crt"), join(dir, "ca.crt"));
  writeFileSync(join(dir, "namespace"), NS);
  // Projected service account files are 0644 in a 0755 directory; the jail's UID is not their owner.
  for (const f of ["token", "ca.crt", "namespace"]) chmodSync(join(dir, f), 0o644);
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * The driver refuses peers of another UID (SO_PEERCRED), as the gateway in the same pod shares
 * its UID. So the client runs jailed too, as the same host UID with the same mapping and the
 * socket volume bound where the gateway would mount it: the compiled binary's own `client`
 * subcommand, with no capabilities, reaching the socket through the driver's 0700 directory.
 */
async function jailedClient(method: string, request: string = "{}", hostUid?: number): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn(
    jailCommand({ root, socketVolume: volume, env: { PATH: "/usr/local/bin" }, argv: [IMAGE_BINARY_PATH, "client", method, request], ...(hostUid ? { hostUid } : {}) }),
    { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
  );
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out, err };
}

async function call(method: string, request: unknown): Promise<any> {
  const r = await jailedClient(method, JSON.stringify(request));
  if (r.code !== 0) throw new Error(`client ${method} exited ${r.code}: ${r.err}`);
  return JSON.parse(r.out);
}

function conditionOf(sandbox: any, type: string): string | undefined {
  return sandbox?.status?.conditions?.find((c: any) => c.type === type)?.status;
}

/** Every path under `dir`, relative to it. */
function treeOf(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).sort();
}

beforeAll(async () => {
  bwrapPath();
  if (!existsSync(DRIVER_BIN)) throw new Error(`${DRIVER_BIN} is missing: run \`just build\` first`);
  root = buildRestrictedRoot(DRIVER_BIN);
  volume = makeSocketVolume();
  serviceAccount = serviceAccountFiles();
  const apiPort = new URL(clusterState().apiserverUrl).port;
  const healthPort = await freePort();
  healthUrl = `http://127.0.0.1:${healthPort}`;
  driver = Bun.spawn(
    jailCommand({
      root,
      socketVolume: volume,
      serviceAccount,
      // What the pod's container gets: no HOME (no passwd entry for the UID), no --socket.
      env: {
        PATH: "/usr/local/bin",
        KUBERNETES_SERVICE_HOST: "127.0.0.1",
        KUBERNETES_SERVICE_PORT: apiPort,
        OPENSHELL_DRIVER_GATEWAY_ID: GATEWAY_ID,
        OPENSHELL_DRIVER_HEALTH_PORT: String(healthPort),
        OPENSHELL_DRIVER_HEALTH_ADDRESS: "127.0.0.1",
        OPENSHELL_DRIVER_LOG_FORMAT: "json",
        OPENSHELL_DRIVER_LOG_LEVEL: "debug",
      },
      argv: [...IMAGE_ENTRYPOINT, ...IMAGE_CMD],
    }),
    { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
  );
  void drain(driver.stdout);
  void drain(driver.stderr);
});

afterAll(() => {
  driver?.kill("SIGTERM");
  kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/gateway-id=${GATEWAY_ID}`, "--wait=false"], { allowFailure: true });
  for (const dir of [root, volume, serviceAccount]) if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the compiled binary as restricted-v2 runs it: UID 1000680000, GID 0, no capabilities, no HOME, read-only root", () => {
  test("it binds the default socket inside the shared volume and /readyz turns 200", async () => {
    await eventually(
      "/readyz 200 from the jailed driver",
      async () => {
        if (driver.exitCode !== null) throw new Error(`driver exited with ${driver.exitCode}:\n${logs()}`);
        const res = await fetch(`${healthUrl}/readyz`).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      },
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${logs()}`);
    });
    expect(logs()).toContain(`"socket":"${DEFAULT_SOCKET}"`);
    expect(logs()).toContain('"kube":"in-cluster service account');
    expect(existsSync(join(volume, relative(SOCKET_VOLUME, DEFAULT_SOCKET)))).toBe(true);
  });

  test("a full sandbox lifecycle over the socket succeeds: create → Ready → stop → start → delete", async () => {
    const { id, name } = uniqueName("jail");
    await call("CreateSandbox", toJson(CreateSandboxRequestSchema, create(CreateSandboxRequestSchema, { sandbox: sandboxRequest({ id, name }) })));
    const readyAfter = (what: string) =>
      eventually(what, async () => (conditionOf((await call("GetSandbox", { sandboxId: id })).sandbox, "Ready") === "True" ? true : undefined), 120_000);
    await readyAfter("Ready=True after create");
    await call("StopSandbox", { sandboxId: id });
    expect(conditionOf((await call("GetSandbox", { sandboxId: id })).sandbox, "Suspended")).toBe("True");
    await call("StartSandbox", { sandboxId: id });
    await readyAfter("Ready=True after start");
    expect((await call("DeleteSandbox", { sandboxId: id })).deleted).toBe(true);
    await eventually("the Sandbox CR gone", () => {
      const list = kubectlJson<{ items: unknown[] }>(["get", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/sandbox-id=${id}`]);
      return list.items.length === 0 ? true : undefined;
    });
  });

  test("nothing is written outside the volumes: the logs show no EROFS or EACCES and the socket volume holds only driver/driver.sock", () => {
    expect(driver.exitCode).toBeNull();
    expect(logs()).not.toMatch(/EROFS|EACCES|read-only file system|permission denied/i);
    expect(treeOf(volume)).toEqual(["driver", "driver/driver.sock"]);
  });

  test("HOME is not needed: the jail has none, and without a service account the binary names every place it looked", async () => {
    const spareVolume = makeSocketVolume();
    const proc = Bun.spawn(jailCommand({ root, socketVolume: spareVolume, env: { PATH: "/usr/local/bin" }, argv: [...IMAGE_ENTRYPOINT, ...IMAGE_CMD] }), {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    rmSync(spareVolume, { recursive: true, force: true });
    expect(code).not.toBe(0);
    expect(err).toContain("~/.kube/config (skipped: HOME is not set)");
    expect(err).not.toContain("uv_os_homedir");
    expect(logs()).not.toContain("uv_os_homedir");
  });

  test("the socket layout is accepted: in the 0777 volume the driver made driver/ 0700 and the socket 0600, both owned by its UID and GID 0", () => {
    const dir = statSync(join(volume, "driver"));
    const socket = statSync(join(volume, "driver/driver.sock"));
    expect((statSync(volume).mode & 0o777).toString(8)).toBe("777");
    const owner = (s: { mode: number; uid: number; gid: number }) => ({ mode: (s.mode & 0o777).toString(8), uid: s.uid, gid: s.gid });
    expect({ dir: owner(dir), socket: owner(socket) }).toEqual({
      dir: { mode: "700", uid: RESTRICTED_UID, gid: RESTRICTED_GID },
      socket: { mode: "600", uid: RESTRICTED_UID, gid: RESTRICTED_GID },
    });
  });

  test("a client running as another UID cannot reach the socket", async () => {
    const other = await jailedClient("GetCapabilities", "{}", RESTRICTED_UID + 1);
    expect(other.code).not.toBe(0);
    expect(other.err).toContain("EACCES");
  });
});
