// tenant tier: what a gateway user's request can reach beyond its own sandbox, tried through the
// socket against the local control plane with the least-privileged shared-mode driver and default
// flags. Workspaces are walls: claims, names and a predecessor's /sandbox claim. Every refusal is
// checked twice (ValidateSandboxCreate and CreateSandbox give the same code and field) and for
// its effect: no Sandbox CR carries the refused request's id.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import type { DriverSandbox } from "../../src/gen/compute_driver_pb";
import { connectClient } from "../support/clients";
import { driverKubeconfig, eventually, kubectl, kubectlJson } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { sandboxRequest, uniqueName } from "../support/requests";

const NS = "openshell-system";
const RUN = Date.now().toString(36).slice(-6);
const GATEWAY_ID = `tw-${RUN}`;
const ALICE = `twa${RUN}`;
const BOB = `twb${RUN}`;
const CLAIM_FIELD = "sandbox.spec.template.driver_config.volumes[0].persistent_volume_claim.claim_name";
/** Claims this file made directly, removed at the end. */
const claims = new Set<string>();

let driver: DriverProcess;
const client = () => connectClient(driver.socket);

async function rejection(call: Promise<unknown>): Promise<ConnectError> {
  return ConnectError.from(await call.then(() => new Error("the call was accepted")).catch((e: unknown) => e));
}

function crsWithId(sandboxId: string): any[] {
  return kubectlJson<{ items: any[] }>(["get", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/sandbox-id=${sandboxId}`]).items;
}

function claim(name: string): any | undefined {
  const out = kubectl(["get", "pvc", "-n", NS, name, "-o", "json", "--ignore-not-found"]);
  return out.trim() === "" ? undefined : JSON.parse(out);
}

function makeClaim(name: string, labels: Record<string, string> = {}): void {
  claims.add(name);
  kubectl(["apply", "-f", "-"], {
    input: JSON.stringify({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name, namespace: NS, labels },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
    }),
  });
}

function mounting(workspace: string, claimName: string): DriverSandbox {
  return sandboxRequest({
    ...uniqueName("tw"),
    workspace,
    spec: {
      template: {
        image: "busybox",
        driverConfig: {
          volumes: [{ name: "data", persistent_volume_claim: { claim_name: claimName, read_only: false } }],
          containers: { agent: { volume_mounts: [{ name: "data", mount_path: "/data", read_only: false }] } },
        },
      },
    },
  });
}

/** Validate and Create refuse alike, naming the field; nothing is created. Returns Create's error. */
async function refusedBoth(sandbox: DriverSandbox, code: Code, field: string): Promise<ConnectError> {
  const validate = await rejection(client().validateSandboxCreate({ sandbox }));
  const created = await rejection(client().createSandbox({ sandbox }));
  for (const err of [validate, created]) {
    expect(err.code).toBe(code);
    expect(err.rawMessage).toStartWith(`${field}: `);
  }
  expect(created.rawMessage).toBe(validate.rawMessage);
  expect(crsWithId(sandbox.id)).toEqual([]);
  return created;
}

/** A sandbox created through the driver, once the controller has made its workspace claim. */
async function sandboxWithClaim(workspace: string): Promise<{ id: string; name: string; crName: string; claimName: string }> {
  const { id, name } = uniqueName("tw");
  await client().createSandbox({ sandbox: sandboxRequest({ id, name, workspace }) });
  const crName = `${workspace}--${name}`;
  const claimName = `workspace-${crName}`;
  await eventually(`the controller made ${claimName}`, () => claim(claimName));
  return { id, name, crName, claimName };
}

beforeAll(async () => {
  driver = await startDriver({ kubeconfig: driverKubeconfig(), gatewayId: GATEWAY_ID });
});

afterAll(async () => {
  kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/gateway-id=${GATEWAY_ID}`, "--wait=false"], { allowFailure: true });
  for (const name of claims) {
    kubectl(["patch", "pvc", "-n", NS, name, "--type=merge", "-p", '{"metadata":{"finalizers":null}}'], { allowFailure: true });
  }
  if (claims.size > 0) kubectl(["delete", "pvc", "-n", NS, ...claims, "--ignore-not-found", "--wait=false"], { allowFailure: true });
  await driver?.stop();
});

describe("a claim named in driver_config must be the requesting workspace's", () => {
  test("workspace B cannot mount workspace A's sandbox's /sandbox claim (a stopped sandbox's claim is free, so ReadWriteOnce would not stop it)", async () => {
    const alice = await sandboxWithClaim(ALICE);
    await refusedBoth(mounting(BOB, alice.claimName), Code.FailedPrecondition, CLAIM_FIELD);
  });

  test("workspace A cannot mount its own other sandbox's /sandbox claim either", async () => {
    const alice = await sandboxWithClaim(ALICE);
    await refusedBoth(mounting(ALICE, alice.claimName), Code.FailedPrecondition, CLAIM_FIELD);
  });

  test("workspace B cannot mount a claim the operator labelled for workspace A; A can", async () => {
    const name = `tw-data-${RUN}`;
    makeClaim(name, { "openshell.ai/sandbox-workspace": ALICE });
    await refusedBoth(mounting(BOB, name), Code.FailedPrecondition, CLAIM_FIELD);
    await client().validateSandboxCreate({ sandbox: mounting(ALICE, name) });
  });

  test("an unlabelled claim of the shared namespace is nobody's workspace's", async () => {
    const name = `tw-unlabelled-${RUN}`;
    makeClaim(name);
    await refusedBoth(mounting(ALICE, name), Code.FailedPrecondition, CLAIM_FIELD);
  });

  test("the answer for 'exists but not yours' is word for word the answer for 'does not exist'", async () => {
    const alice = await sandboxWithClaim(ALICE);
    const missing = `tw-none-${RUN}`;
    const notYours = await refusedBoth(mounting(BOB, alice.claimName), Code.FailedPrecondition, CLAIM_FIELD);
    const absent = await refusedBoth(mounting(BOB, missing), Code.FailedPrecondition, CLAIM_FIELD);
    expect(notYours.rawMessage.replace(alice.claimName, "<claim>")).toBe(absent.rawMessage.replace(missing, "<claim>"));
  });
});

describe("workspace and sandbox names join without collisions", () => {
  test("workspace 'a' + name 'b--c' and workspace 'a--b' + name 'c' (one CR name) are both refused, naming the field", async () => {
    const { id } = uniqueName("tw");
    await refusedBoth(sandboxRequest({ id: `${id}-1`, name: "b--c", workspace: `${ALICE}` }), Code.InvalidArgument, "sandbox.name");
    await refusedBoth(sandboxRequest({ id: `${id}-2`, name: "c", workspace: `${ALICE}--b` }), Code.InvalidArgument, "sandbox.workspace");
  });
});

describe("a new sandbox never inherits an earlier one's /sandbox claim", () => {
  test("delete, then re-create the same workspace and name while the old claim is still being deleted: ABORTED naming sandbox.name, then a fresh claim", async () => {
    const first = await sandboxWithClaim(ALICE);
    const oldUid = claim(first.claimName).metadata.uid;
    // Hold the old claim in Terminating, as a busy garbage collector or a claim still in use by the
    // old pod (kubernetes.io/pvc-protection) would, so the window is not left to timing.
    claims.add(first.claimName);
    kubectl(["patch", "pvc", "-n", NS, first.claimName, "--type=json", "-p", JSON.stringify([{ op: "add", path: "/metadata/finalizers/-", value: "openshell.ai/tenant-test-hold" }])]);
    await client().deleteSandbox({ sandboxId: first.id });
    await eventually("the old CR gone", () => (crsWithId(first.id).length === 0 ? true : undefined));

    const again = sandboxRequest({ id: `${first.id}-again`, name: first.name, workspace: ALICE });
    const err = await refusedBoth(again, Code.Aborted, "sandbox.name");
    expect(err.rawMessage).toContain(`"${first.claimName}"`);
    expect(err.rawMessage).toContain("retry once it is gone");

    kubectl(["patch", "pvc", "-n", NS, first.claimName, "--type=json", "-p", JSON.stringify([{ op: "remove", path: "/metadata/finalizers" }])]);
    await eventually("the old claim gone", () => (claim(first.claimName) === undefined ? true : undefined));
    await client().createSandbox({ sandbox: again });
    const fresh = await eventually("the new sandbox's claim", () => claim(first.claimName));
    expect(fresh.metadata.uid).not.toBe(oldUid);
    expect(fresh.metadata.ownerReferences?.[0]?.uid).toBe(crsWithId(again.id)[0].metadata.uid);
  });

  test("an orphaned claim of the same CR name (the controller would adopt it by its name-hash label) is FAILED_PRECONDITION naming sandbox.name", async () => {
    const first = await sandboxWithClaim(BOB);
    claims.add(first.claimName);
    // kubectl delete --cascade=orphan: the garbage collector strips the owner and keeps the claim.
    kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", NS, first.crName, "--cascade=orphan"]);
    await eventually("the claim orphaned", () => {
      const c = claim(first.claimName);
      return c && (c.metadata.ownerReferences ?? []).length === 0 ? c : undefined;
    });
    expect(claim(first.claimName).metadata.labels["agents.x-k8s.io/sandbox-name-hash"]).toBeDefined();
    const err = await refusedBoth(sandboxRequest({ id: `${first.id}-again`, name: first.name, workspace: BOB }), Code.FailedPrecondition, "sandbox.name");
    expect(err.rawMessage).toContain("would take over its files");
    kubectl(["delete", "pod", "-n", NS, first.crName, "--ignore-not-found", "--wait=false"], { allowFailure: true });
  });
});
