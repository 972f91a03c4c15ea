// e2e tier: answers the gateway can trust from the compiled driver on a real control plane. A
// driver whose RBAC lacks `events` still serves everything; GetSandbox right after CreateSandbox
// never says NOT_FOUND; an id that would change a label selector is refused and touches nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectClient } from "../support/clients";
import { eventually, kubectl, kubectlJson, serviceAccountUser } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { CLUSTER_DIR, REPO } from "../support/paths";
import { sandboxRequest, uniqueName } from "../support/requests";
import { WatchRecorder } from "../support/watch-recorder";

const NS = "openshell-system";
const GATEWAY_ID = `e2e-truth-${Date.now().toString(36)}`;
const SERVICE_ACCOUNT = "openshell-driver-noevents";
const EVENTS_RULE = `  - apiGroups: [""]
    resources: ["events"]
    verbs: ["get", "list", "watch"]
`;

let driver: DriverProcess;
let watch: WatchRecorder;

/** deploy/rbac.yaml under another name, without its `events` rule. */
function kubeconfigWithoutEvents(): string {
  const rbac = readFileSync(join(REPO, "deploy/rbac.yaml"), "utf8");
  if (!rbac.includes(EVENTS_RULE)) throw new Error("deploy/rbac.yaml no longer has the events rule this test removes");
  const manifest = join(mkdtempSync(join(tmpdir(), "osdrv-rbac-")), "rbac-without-events.yaml");
  writeFileSync(manifest, rbac.replace(EVENTS_RULE, "").replaceAll("openshell-driver", SERVICE_ACCOUNT));
  const out = join(CLUSTER_DIR, "driver-noevents.kubeconfig");
  const proc = Bun.spawnSync(["bash", join(REPO, "cluster/driver-kubeconfig.sh"), SERVICE_ACCOUNT, manifest, out], { stderr: "pipe" });
  if (proc.exitCode !== 0) throw new Error(`driver-kubeconfig.sh failed: ${proc.stderr.toString()}`);
  return out;
}

function crFor(sandboxId: string): any | undefined {
  return kubectlJson<{ items: any[] }>(["get", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/sandbox-id=${sandboxId}`]).items[0];
}

async function rejection(call: Promise<unknown>): Promise<ConnectError> {
  return ConnectError.from(await call.then(() => new Error("the call was accepted")).catch((e: unknown) => e));
}

beforeAll(async () => {
  const kubeconfig = kubeconfigWithoutEvents();
  const canListEvents = kubectl(["auth", "can-i", "list", "events", "-n", NS, "--as", serviceAccountUser(SERVICE_ACCOUNT, NS)], { allowFailure: true }).trim();
  expect(canListEvents).toBe("no");
  // startDriver waits for /readyz: a driver held up by Events never gets past this.
  driver = await startDriver({ kubeconfig, gatewayId: GATEWAY_ID });
  watch = new WatchRecorder(driver.socket);
});

afterAll(async () => {
  await watch?.close();
  kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/gateway-id=${GATEWAY_ID}`, "--wait=false"], { allowFailure: true });
  await driver?.stop();
});

describe("answers the gateway can trust (real control plane)", () => {
  const client = () => connectClient(driver.socket);

  test("a driver whose RBAC lacks events is ready and serves Create, Get, List and Watch", async () => {
    const { id, name } = uniqueName("noev");
    await client().createSandbox({ sandbox: sandboxRequest({ id, name }) });
    expect((await client().getSandbox({ sandboxId: id })).sandbox?.name).toBe(name);
    expect((await client().listSandboxes({})).sandboxes.map((s) => s.id)).toContain(id);
    await watch.waitForSnapshot("the sandbox on the watch", id, () => true);
    const ready = await fetch(`${driver.healthUrl}/readyz`);
    expect(ready.status).toBe(200);
    // Ready, and says what is missing: progress events need the events rule.
    const detail = await eventually("the events problem in /readyz", async () => {
      const text = await (await fetch(`${driver.healthUrl}/readyz`)).text();
      return text.includes("degraded") ? text : undefined;
    });
    expect(detail).toContain("events");
  });

  test("GetSandbox right after CreateSandbox never answers NOT_FOUND", async () => {
    for (let i = 0; i < 5; i++) {
      const { id, name } = uniqueName("quick");
      await client().createSandbox({ sandbox: sandboxRequest({ id, name }) });
      const got = await client().getSandbox({ sandboxId: id });
      expect(got.sandbox?.id).toBe(id);
    }
  });

  test("an id with a comma is refused as INVALID_ARGUMENT on every RPC and touches nothing", async () => {
    const { id, name } = uniqueName("target");
    await client().createSandbox({ sandbox: sandboxRequest({ id, name }) });
    const before = crFor(id);
    const injected = `${id},openshell.ai/sandbox-name`;

    for (const call of [
      client().getSandbox({ sandboxId: injected }),
      client().stopSandbox({ sandboxId: injected }),
      client().startSandbox({ sandboxId: injected }),
      client().deleteSandbox({ sandboxId: injected }),
    ]) {
      const err = await rejection(call);
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toContain("sandbox_id");
    }
    const createErr = await rejection(client().createSandbox({ sandbox: sandboxRequest({ id: injected, name: uniqueName("injected").name }) }));
    expect(createErr.code).toBe(Code.InvalidArgument);
    expect(createErr.rawMessage).toContain("sandbox.id");

    const after = crFor(id);
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(after.metadata.generation).toBe(before.metadata.generation);
    expect(after.metadata.deletionTimestamp).toBeUndefined();
    const mine = kubectlJson<{ items: any[] }>(["get", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/gateway-id=${GATEWAY_ID}`]).items;
    expect(mine.some((cr) => cr.metadata.name.includes("injected"))).toBe(false);
  });
});
