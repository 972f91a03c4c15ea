import { describe, expect, test } from "bun:test";
import { claimBelongsTo, claimUnavailable, type ClaimRequester } from "../../src/sandbox/claim-ownership";

const shared = (workspace: string): ClaimRequester => ({ workspace, workspaceMode: "shared" });
const managed = (workspace: string): ClaimRequester => ({ workspace, workspaceMode: "managed" });
const sandboxOwner = [{ apiVersion: "agents.x-k8s.io/v1beta1", kind: "Sandbox" }];

describe("whose a claim is", () => {
  test("a sandbox's workspace claim (owned by its Sandbox) is nobody's to mount, not even its own workspace's", () => {
    const claim = { labels: { "openshell.ai/sandbox-workspace": "alice" }, ownerReferences: sandboxOwner };
    expect(claimBelongsTo(claim, shared("alice"))).toBe(false);
    expect(claimBelongsTo(claim, managed("alice"))).toBe(false);
  });

  test("an orphaned workspace claim still carries the controller's name-hash label and stays unmountable", () => {
    expect(claimBelongsTo({ labels: { "agents.x-k8s.io/sandbox-name-hash": "e40c292c" } }, managed("alice"))).toBe(false);
  });

  test("shared mode: only a claim labelled for the workspace is the workspace's", () => {
    expect(claimBelongsTo({ labels: { "openshell.ai/sandbox-workspace": "alice" } }, shared("alice"))).toBe(true);
    expect(claimBelongsTo({ labels: { "openshell.ai/sandbox-workspace": "alice" } }, shared("bob"))).toBe(false);
    expect(claimBelongsTo({}, shared("bob"))).toBe(false);
  });

  test("per-workspace namespaces: an unlabelled claim is the namespace's workspace's; one labelled for another is not", () => {
    expect(claimBelongsTo({}, managed("alice"))).toBe(true);
    expect(claimBelongsTo({ labels: { "openshell.ai/sandbox-workspace": "bob" } }, managed("alice"))).toBe(false);
  });

  test("the refusal for a claim that is not yours is word for word the one for a claim that does not exist", () => {
    // Both paths build the answer from the request alone: the field, the claim name asked for and the namespace.
    const a = claimUnavailable("f", "alice-data", "openshell", shared("bob"));
    expect(a.code).toBe("FailedPrecondition");
    expect(a.message).toBe(
      'f: workspace "bob" has no PersistentVolumeClaim "alice-data" in namespace "openshell" (a claim is the workspace\'s when it carries label openshell.ai/sandbox-workspace=bob; a sandbox\'s own workspace claim is never mountable)',
    );
  });
});
