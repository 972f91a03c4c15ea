// `bun run bench/idle-footprint.ts`: what the driver's idle RSS is made of. Each row is a
// `bun build --compile --minify` executable that binds a Unix socket and then idles, adding one
// import at a time, and the driver itself (with and without --smol); VmRSS is read 1 s after the
// socket is bound. No cluster is needed: the driver gets a kubeconfig that points nowhere.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "../test/support/paths";
import { memoryMiB } from "./driver-timing";
import { provenance, saveResult } from "./report";

const dir = mkdtempSync(join(tmpdir(), "osdrv-idle-"));

/** Module source that imports `imports` (kept alive by using them) and binds `process.argv[2]`. */
function entry(imports: string[], extra = ""): string {
  const lines = imports.map((spec, i) => `import * as m${i} from ${JSON.stringify(spec)};`);
  const keep = imports.map((_, i) => `Object.keys(m${i}).length`).join(" + ") || "0";
  return `${lines.join("\n")}
${extra}
const kept = ${keep};
Bun.listen({ unix: process.argv[2]!, socket: { data() {} } });
setInterval(() => kept, 1 << 30);
`;
}

async function build(name: string, source: string, flags: string[] = []): Promise<string> {
  const src = join(REPO, "bench", `.idle-${name}.ts`);
  writeFileSync(src, source);
  const out = join(dir, name);
  try {
    const proc = Bun.spawnSync(["bun", "build", "--compile", "--minify", ...flags, src, "--outfile", out], { stdout: "pipe", stderr: "pipe" });
    if (proc.exitCode !== 0) throw new Error(`bun build ${name}: ${proc.stderr.toString()}`);
  } finally {
    rmSync(src, { force: true });
  }
  return out;
}

async function idleRss(args: string[], socket: string, env: Record<string, string> = {}): Promise<number> {
  const proc = Bun.spawn(args, { stdout: "ignore", stderr: "ignore", env: { ...process.env, ...env } });
  try {
    const deadline = Date.now() + 30_000;
    while (!existsSync(socket)) {
      if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`${args[0]} bound no socket`);
      await Bun.sleep(5);
    }
    await Bun.sleep(1000);
    return memoryMiB(proc.pid).rss;
  } finally {
    proc.kill();
    await proc.exited;
    rmSync(socket, { force: true });
  }
}

const rows: [string, number][] = [];
const steps: [string, string[], string?][] = [
  ["bare executable: Bun.listen on a Unix socket", []],
  ["+ @connectrpc/connect-node", ["@connectrpc/connect-node"]],
  ["+ src/gen/compute_driver_pb (generated code)", ["@connectrpc/connect-node", "../src/gen/compute_driver_pb"]],
  ["+ prom-client", ["@connectrpc/connect-node", "../src/gen/compute_driver_pb", "prom-client"]],
  ["+ prom-client's collectDefaultMetrics (src/server/metrics.ts calls it)", ["@connectrpc/connect-node", "../src/gen/compute_driver_pb", "prom-client"], 'import { collectDefaultMetrics, Registry } from "prom-client"; collectDefaultMetrics({ register: new Registry() });'],
  ["+ @kubernetes/client-node (src/kube/kubeconfig.ts imports KubeConfig)", ["@connectrpc/connect-node", "../src/gen/compute_driver_pb", "prom-client", "@kubernetes/client-node"], 'import { collectDefaultMetrics, Registry } from "prom-client"; collectDefaultMetrics({ register: new Registry() });'],
];
for (const [i, [what, imports, extra]] of steps.entries()) {
  const socket = join(dir, `s${i}.sock`);
  const bin = await build(`step${i}`, entry(imports, extra));
  rows.push([what, await idleRss([bin, socket], socket)]);
  if (i === 0) rows.push([`${what}, --smol`, await idleRss([await build("step0-smol", entry(imports), ["--compile-exec-argv=--smol"]), socket], socket)]);
}

const kubeconfig = join(dir, "kubeconfig");
writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters: [{name: nowhere, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: "t"}}]
contexts: [{name: c, context: {cluster: nowhere, user: u}}]
current-context: c
`);
const main = join(REPO, "src/main.ts");
for (const [what, flags] of [
  ["the driver (`just build` flags), serve idle", ["--sourcemap", "--bytecode", "--format=esm"]],
  ["the driver, without --bytecode", ["--sourcemap"]],
  ["the driver, built with --compile-exec-argv=--smol", ["--sourcemap", "--bytecode", "--format=esm", "--compile-exec-argv=--smol"]],
] as [string, string[]][]) {
  const out = join(dir, `driver-${rows.length}`);
  const proc = Bun.spawnSync(["bun", "build", "--compile", "--minify", ...flags, main, "--outfile", out], { stdout: "pipe", stderr: "pipe" });
  if (proc.exitCode !== 0) throw new Error(`bun build driver: ${proc.stderr.toString()}`);
  const socket = join(dir, "driver.sock");
  rows.push([what, await idleRss([out, "serve", `--socket=${socket}`, `--kubeconfig=${kubeconfig}`, "--gateway-id=idle", "--health-port=0"], socket)]);
}
rmSync(dir, { recursive: true, force: true });

saveResult("idle", {
  ...provenance("just bench-idle"),
  rows: rows.map(([what, rss]) => ({ what, value: `${rss.toFixed(1)} MiB` })),
  notes: "Each row a `bun build --compile --minify` executable that binds a Unix socket and idles, one import more than the row before; VmRSS 1 s after the socket is bound.",
});
