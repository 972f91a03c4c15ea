// deploy/systemd/openshell-driver-k8s.service: the node install. Its settings are checked against
// the driver's own defaults, and systemd's own tools check the file (it is not started here).
import { describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FLAGS } from "../../src/config/flags";
import { REPO } from "../support/paths";
import { DEFAULT_SOCKET, IMAGE_BINARY_PATH } from "../support/restricted-root";

const UNIT_FILE = join(REPO, "deploy/systemd/openshell-driver-k8s.service");
const UNIT_NAME = "openshell-driver-k8s.service";

/** section → key → every value it is given, in order (systemd keys may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.replace(/\\\n/g, " ").split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf("=");
    if (!current || eq < 0) throw new Error(`not a unit file line: ${line}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

const service = parseUnit(readFileSync(UNIT_FILE, "utf8")).get("Service")!;
const last = (key: string) => service.get(key)?.at(-1);

const systemdAnalyze = Bun.which("systemd-analyze");

describe("the systemd unit for a node install", () => {
  test("it runs as the static user openshell, which the gateway's unit must share to pass the driver's same-UID check", () => {
    expect({ user: last("User"), group: last("Group"), dynamicUser: last("DynamicUser") ?? "no" }).toEqual({
      user: "openshell",
      group: "openshell",
      dynamicUser: "no",
    });
  });

  test("systemd makes the socket's private directory, 0700, at the driver's default socket path", () => {
    expect(last("RuntimeDirectory")).toBe("openshell-compute/driver");
    expect(last("RuntimeDirectoryMode")).toBe("0700");
    // RuntimeDirectory= is relative to /run, and /var/run is a symlink to /run.
    expect(`/var/run/${last("RuntimeDirectory")}/driver.sock`).toBe(DEFAULT_SOCKET);
  });

  test("ExecStart runs the installed binary's serve with the node's kubeconfig, only with flags the driver knows, and leaves the socket at its default", () => {
    const argv = last("ExecStart")!.split(/\s+/);
    expect(argv.slice(0, 2)).toEqual([IMAGE_BINARY_PATH, "serve"]);
    expect(argv.slice(argv.indexOf("--kubeconfig"), argv.indexOf("--kubeconfig") + 2)).toEqual(["--kubeconfig", "/etc/openshell/kubeconfig"]);
    const flags = argv.filter((a) => a.startsWith("--")).map((a) => a.slice(2).split("=")[0]!);
    for (const flag of flags) expect(Object.keys(FLAGS)).toContain(flag);
    expect(flags).not.toContain("socket");
  });

  test("it is hardened: no privileges, a read-only system, a syscall allow-list, and W+X memory allowed only because Bun's JIT needs it", () => {
    expect({
      NoNewPrivileges: last("NoNewPrivileges"),
      CapabilityBoundingSet: last("CapabilityBoundingSet"),
      AmbientCapabilities: last("AmbientCapabilities"),
      ProtectSystem: last("ProtectSystem"),
      ProtectHome: last("ProtectHome"),
      PrivateTmp: last("PrivateTmp"),
      PrivateDevices: last("PrivateDevices"),
      RestrictAddressFamilies: last("RestrictAddressFamilies"),
      SystemCallFilter: service.get("SystemCallFilter"),
      MemoryDenyWriteExecute: last("MemoryDenyWriteExecute"),
      Restart: last("Restart"),
    }).toEqual({
      NoNewPrivileges: "yes",
      CapabilityBoundingSet: "",
      AmbientCapabilities: "",
      ProtectSystem: "strict",
      ProtectHome: "yes",
      PrivateTmp: "yes",
      PrivateDevices: "yes",
      RestrictAddressFamilies: "AF_UNIX AF_INET AF_INET6",
      SystemCallFilter: ["@system-service", "~@privileged"],
      MemoryDenyWriteExecute: "no",
      Restart: "on-failure",
    });
  });

  // systemd-analyze comes with Debian's systemd package (priority important); ./dev installs no
  // systemd, so a machine without it skips these two and still runs the checks above.
  test.skipIf(!systemdAnalyze)("systemd-analyze verify accepts the unit without a single warning", () => {
    // A scratch root holding systemd's own units (for the targets named) and an executable at
    // ExecStart's path, which verify requires.
    const root = mkdtempSync(join(tmpdir(), "osdrv-systemd-root-"));
    try {
      mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
      mkdirSync(join(root, "usr/lib/systemd"), { recursive: true });
      mkdirSync(join(root, "usr/local/bin"), { recursive: true });
      cpSync("/lib/systemd/system", join(root, "usr/lib/systemd/system"), { recursive: true });
      copyFileSync(UNIT_FILE, join(root, "etc/systemd/system", UNIT_NAME));
      copyFileSync("/bin/true", join(root, IMAGE_BINARY_PATH));
      chmodSync(join(root, IMAGE_BINARY_PATH), 0o555);
      const proc = Bun.spawnSync([systemdAnalyze!, "verify", "--man=no", `--root=${root}`, `/etc/systemd/system/${UNIT_NAME}`], { stdout: "pipe", stderr: "pipe" });
      expect({ exitCode: proc.exitCode, output: `${proc.stdout}${proc.stderr}` }).toEqual({ exitCode: 0, output: "" });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test.skipIf(!systemdAnalyze)("systemd-analyze security rates the unit's exposure at most 2.0 (\"OK\")", () => {
    const proc = Bun.spawnSync([systemdAnalyze!, "security", "--offline=yes", "--threshold=20", "--no-pager", UNIT_FILE], { stdout: "pipe", stderr: "pipe" });
    const summary = /Overall exposure level[^\n]*/.exec(`${proc.stdout}${proc.stderr}`)?.[0];
    expect({ exitCode: proc.exitCode, summary }).toEqual({ exitCode: 0, summary: expect.stringMatching(/: [01]\.\d|: 2\.0/) });
  });
});
