import { describe, expect, test } from "bun:test";
import { DriverError } from "../../src/driver/errors";
import { ensureNoLeftoverWorkspaceClaim } from "../../src/driver/leftover-workspace-claim";
import type { FoundSandbox } from "../../src/driver/sandbox-lookup";
import { KubeApiError, type KubeClient } from "../../src/kube";
import { SandboxRequestError, validateSandbox } from "../../src/sandbox";
import { makeSandbox, makeSettings } from "./fixtures";

const OLD_UID = "00000000-0000-4000-8000-00000000000a";
const LIVE_UID = "00000000-0000-4000-8000-00000000000b";
const sandboxOwner = (uid: string) => [{ apiVersion: "agents.x-k8s.io/v1beta1", kind: "Sandbox", uid, controller: true }];

function clientWith(claim: object | undefined): { client: KubeClient; paths: string[] } {
  const paths: string[] = [];
  const client = {
    request: async (req: { path: string; verb: string; resource: string }) => {
      paths.push(req.path);
      if (claim) return claim;
      throw new KubeApiError({ status: 404, reason: "NotFound", verb: req.verb, resource: req.resource, detail: "not found" });
    },
  } as unknown as KubeClient;
  return { client, paths };
}

const lookup = (live?: { uid: string; deleting?: boolean }) => ({
  byName: async () =>
    live ? ({ metadata: { name: "ws--demo", namespace: "openshell", uid: live.uid, ...(live.deleting ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}) } } as unknown as FoundSandbox) : undefined,
});

const validated = (template = {}) => validateSandbox(makeSandbox({ name: "demo", workspace: "ws", spec: { template: { image: "busybox", ...template } } }), makeSettings());

async function outcome(claim: object | undefined, live?: { uid: string; deleting?: boolean }): Promise<string> {
  try {
    await ensureNoLeftoverWorkspaceClaim(clientWith(claim).client, lookup(live), validated());
    return "ok";
  } catch (err) {
    if (err instanceof DriverError || err instanceof SandboxRequestError) return `${err.code}: ${err.message}`;
    throw err;
  }
}

describe("a new sandbox never inherits an earlier sandbox's workspace claim", () => {
  test("no claim of that name: the create goes ahead, after one read of workspace-<CR name>", async () => {
    const { client, paths } = clientWith(undefined);
    await ensureNoLeftoverWorkspaceClaim(client, lookup(), validated());
    expect(paths).toEqual(["/api/v1/namespaces/openshell/persistentvolumeclaims/workspace-ws--demo"]);
  });

  test("a claim still owned by a deleted sandbox of the same name is ABORTED, naming sandbox.name and asking to retry", async () => {
    const answer = await outcome({ metadata: { ownerReferences: sandboxOwner(OLD_UID) } });
    expect(answer).toStartWith("Aborted: sandbox.name: the workspace claim \"workspace-ws--demo\" of an earlier sandbox");
    expect(answer).toContain("retry once it is gone");
  });

  test("a claim the garbage collector is deleting is ABORTED too, even while a new CR of the name owns it", async () => {
    expect(await outcome({ metadata: { deletionTimestamp: "2026-01-01T00:00:00Z", ownerReferences: sandboxOwner(LIVE_UID) } }, { uid: LIVE_UID })).toStartWith("Aborted:");
  });

  test("an orphaned claim (no owner; the controller would adopt it by its name-hash label) is FAILED_PRECONDITION naming sandbox.name", async () => {
    const answer = await outcome({ metadata: { labels: { "agents.x-k8s.io/sandbox-name-hash": "e40c292c" } } });
    expect(answer).toStartWith("FailedPrecondition: sandbox.name: PersistentVolumeClaim \"workspace-ws--demo\"");
    expect(answer).toContain("would take over its files");
  });

  test("the claim of the live sandbox of that name is left to the name conflict (an idempotent retry stays OK)", async () => {
    expect(await outcome({ metadata: { ownerReferences: sandboxOwner(LIVE_UID) } }, { uid: LIVE_UID })).toBe("ok");
  });

  test("a live sandbox being deleted does not vouch for its claim", async () => {
    expect(await outcome({ metadata: { ownerReferences: sandboxOwner(LIVE_UID) } }, { uid: LIVE_UID, deleting: true })).toStartWith("Aborted:");
  });

  test("a sandbox whose own volume takes /sandbox gets no workspace claim, so nothing is read", async () => {
    const { client, paths } = clientWith({ metadata: { ownerReferences: sandboxOwner(OLD_UID) } });
    const own = validated({
      driverConfig: {
        volumes: [{ name: "project", persistent_volume_claim: { claim_name: "p" } }],
        containers: { agent: { volume_mounts: [{ name: "project", mount_path: "/sandbox/project" }] } },
      },
    });
    await ensureNoLeftoverWorkspaceClaim(client, lookup(), own);
    expect(paths).toEqual([]);
  });
});
