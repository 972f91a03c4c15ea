// Shared pieces of the chaos and fuzz tier: how an answer is classified, what the cluster holds for
// a gateway, and the control plane's processes and etcd, reached the way an operator would.
import { Code, ConnectError } from "@connectrpc/connect";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connectClient } from "../support/clients";
import { eventually, kubectl, kubectlJson, restartControllers } from "../support/cluster";
import { sandboxRequest, uniqueName } from "../support/requests";
import { condition } from "../support/watch-recorder";
import { CLUSTER_DIR } from "../support/paths";

/** Answers a gateway reads as "try again later": acceptable while the API server is away. */
export const OUTAGE_CODES = new Set(["UNAVAILABLE", "DEADLINE_EXCEEDED"]);
/** Answers that mean the driver itself broke: never acceptable. */
export const BROKEN_CODES = new Set(["INTERNAL", "UNKNOWN"]);

/** The gRPC status name of a settled call: "OK" or the Code's name (e.g. "UNAVAILABLE"). */
export async function statusOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "OK";
  } catch (err) {
    return codeName(ConnectError.from(err).code);
  }
}

/** A gRPC status number as its name: 0 is "OK" (Connect's Code has no member for it). */
export function codeName(code: Code | number): string {
  if (code === 0) return "OK";
  const name = Code[code] as string | undefined;
  return name ? name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase() : `STATUS ${code}`;
}

/** Tally of status names, printed in the summaries. */
export class Tally {
  readonly counts = new Map<string, number>();
  add(name: string): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
  }
  get(name: string): number {
    return this.counts.get(name) ?? 0;
  }
  total(): number {
    return [...this.counts.values()].reduce((a, b) => a + b, 0);
  }
  toString(): string {
    return [...this.counts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(" ");
  }
}

/** Sandbox ids of every Sandbox CR this gateway owns in `namespace`. */
export function clusterSandboxIds(namespace: string, gatewayId: string): string[] {
  return kubectlJson<{ items: any[] }>(["get", "sandboxes.agents.x-k8s.io", "-n", namespace, "-l", `openshell.ai/gateway-id=${gatewayId}`])
    .items.map((i) => i.metadata.labels["openshell.ai/sandbox-id"] as string)
    .sort();
}

/**
 * Deletes every Sandbox CR of this gateway and waits until their pods are gone too: the kwok nodes'
 * capacity is shared, and the next test file must find room to schedule its own pods.
 */
export async function removeGatewaySandboxes(namespace: string, gatewayId: string): Promise<void> {
  const selector = `openshell.ai/gateway-id=${gatewayId}`;
  kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", namespace, "-l", selector, "--wait=true", "--timeout=120s"], { allowFailure: true });
  await eventually(
    `the pods of gateway ${gatewayId} gone`,
    () => (kubectlJson<{ items: unknown[] }>(["get", "pods", "-n", namespace, "-l", selector]).items.length === 0 ? true : undefined),
    120_000,
  );
}

/**
 * A new sandbox made through the driver becomes Ready: the whole chain (driver, API server, volume
 * provisioning, controller, scheduler, kwok) serves again after the chaos. The control plane's
 * controllers are restarted first: after API-server restarts their list/watch backoff, not the
 * driver, would decide when (a minute per hop, minutes in all), and the next test file would
 * inherit a half-recovered cluster. The driver under test is never restarted.
 */
export async function newSandboxBecomesReady(socket: string): Promise<number> {
  restartControllers();
  const client = connectClient(socket);
  const probe = uniqueName("settle");
  const startedAt = Date.now();
  await eventually("the settle sandbox accepted", async () => ((await client.createSandbox({ sandbox: sandboxRequest(probe) }), true)), 60_000);
  await eventually(
    "a new sandbox Ready=True after the chaos",
    async () => (condition((await client.getSandbox({ sandboxId: probe.id })).sandbox!, "Ready")?.status === "True" ? true : undefined),
    // Observed 1–39 s after the controllers' restart (a pod parked as unschedulable while its claim
    // binds waits for the scheduler's next retry): allow well beyond that before calling it stuck.
    300_000,
  ).catch(async (err) => {
    const said = await client.getSandbox({ sandboxId: probe.id }).then(
      (r) => (r.sandbox?.status?.conditions ?? []).map((c) => `${c.type}=${c.status}(${c.reason})`).join(" "),
      (e) => String(e),
    );
    throw new Error(`${(err as Error).message}\n  the driver says: ${said}\n${chainSnapshot(probe.name)}`);
  });
  await client.deleteSandbox({ sandboxId: probe.id });
  return Math.round((Date.now() - startedAt) / 1000);
}

/**
 * Where a sandbox stopped on its way to Ready, one line per object of the chain (Sandbox, claim, pod):
 * which component to look at when the control plane did not recover.
 */
function chainSnapshot(sandboxName: string): string {
  const { items } = kubectlJson<{ items: any[] }>(["get", "sandboxes.agents.x-k8s.io,persistentvolumeclaims,pods", "-A"]);
  const lines = items
    .filter((o) => String(o.metadata.name).includes(sandboxName))
    .map((o) => {
      const conditions = (o.status?.conditions ?? []).map((c: any) => `${c.type}=${c.status}${c.reason ? `(${c.reason})` : ""}`).join(" ");
      return `  ${o.kind} ${o.metadata.namespace}/${o.metadata.name}: phase=${o.status?.phase ?? "-"} node=${o.spec?.nodeName ?? "-"} ${conditions}`;
    });
  return lines.length ? `where it stands:\n${lines.join("\n")}` : `nothing named ${sandboxName} exists in the cluster`;
}

function stateValue(key: string): string {
  const line = readFileSync(join(CLUSTER_DIR, "state.env"), "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${key}=`));
  const value = line?.slice(key.length + 1).replace(/^'(.*)'$/, "$1");
  if (!value) throw new Error(`${key} is not set in state.env: is the cluster up?`);
  return value;
}

/** kube-apiserver's current pid (it changes with every restart, so read it fresh). */
export function apiserverPid(): number {
  return Number(stateValue("APISERVER_PID"));
}

/** A call to etcd's HTTP gateway with the API server's own etcd client certificate. */
export async function etcd(path: string, body: object): Promise<any> {
  const pki = join(CLUSTER_DIR, "pki");
  const proc = Bun.spawn(
    [
      "curl", "-sS", "--fail-with-body", "--max-time", "30",
      "--cacert", join(pki, "ca.crt"),
      "--cert", join(pki, "apiserver-etcd-client.crt"),
      "--key", join(pki, "apiserver-etcd-client.key"),
      "-X", "POST", `https://127.0.0.1:${stateValue("ETCD_CLIENT_PORT")}${path}`,
      "-d", JSON.stringify(body),
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`etcd ${path} failed (${code}): ${err}${out}`);
  return JSON.parse(out);
}

/** Resident memory of a process in KiB, from /proc. */
export function rssKiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(/(\d+)/.exec(line ?? "")?.[1] ?? NaN);
}

/** One line per test in the CI log, easy to grep: `[chaos] <test>: k=v ...`. */
export function report(test: string, figures: Record<string, string | number>): void {
  console.log(`[chaos] ${test}: ${Object.entries(figures).map(([k, v]) => `${k}=${v}`).join(" ")}`);
}
