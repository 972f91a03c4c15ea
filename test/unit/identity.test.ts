import { describe, expect, test } from "bun:test";
import { checkSidecarProxyIdentity, renderSandbox, resolveSandboxIdentity, validateSandbox } from "../../src/sandbox";
import type { RenderSettings } from "../../src/sandbox/settings";
import { expectRejection } from "./expect-rejection";
import { makeSandbox, makeSettings } from "./fixtures";

const UID_RANGE = "openshift.io/sa.scc.uid-range";
const GROUPS = "openshift.io/sa.scc.supplemental-groups";
const OPENSHIFT = { [UID_RANGE]: "1000680000/10000", [GROUPS]: "1000690000/10000" };

type Ids = Pick<RenderSettings, "sandboxUid" | "sandboxGid">;
const none: Ids = { sandboxUid: undefined, sandboxGid: undefined };

describe("sandbox identity, as upstream's resolve_sandbox_identity_in_namespace", () => {
  const cases: [string, Ids, Record<string, string>, { uid: number; gid: number }][] = [
    ["no configuration and a plain namespace gives 1000/1000", none, {}, { uid: 1000, gid: 1000 }],
    ["an OpenShift namespace gives its UID range and supplemental group starts", none, OPENSHIFT, { uid: 1000680000, gid: 1000690000 }],
    ["without supplemental groups the group is the resolved uid", none, { [UID_RANGE]: "1000680000/10000" }, { uid: 1000680000, gid: 1000680000 }],
    ["a configured uid wins over the namespace and is the group too", { ...none, sandboxUid: 5000 }, OPENSHIFT, { uid: 5000, gid: 5000 }],
    ["a configured uid and gid win over everything", { sandboxUid: 5000, sandboxGid: 6000 }, OPENSHIFT, { uid: 5000, gid: 6000 }],
    ["a configured gid alone wins over supplemental groups", { ...none, sandboxGid: 6000 }, OPENSHIFT, { uid: 1000680000, gid: 6000 }],
    ["a range start of 0 is not a usable uid", none, { [UID_RANGE]: "0/10000" }, { uid: 1000, gid: 1000 }],
    ["a range start beyond 2^32-2 is not a usable uid", none, { [UID_RANGE]: "4294967295/1" }, { uid: 1000, gid: 1000 }],
    ["a range without a size is ignored", none, { [UID_RANGE]: "1000680000" }, { uid: 1000, gid: 1000 }],
    ["a range that is not a number is ignored", none, { [UID_RANGE]: "abc/10", [GROUPS]: "x/1" }, { uid: 1000, gid: 1000 }],
    ["whitespace around the start is tolerated", none, { [UID_RANGE]: " 1000680000 /10000" }, { uid: 1000680000, gid: 1000680000 }],
  ];
  test.each(cases)("%s", (_, ids, annotations, expected) => {
    expect(resolveSandboxIdentity(ids, annotations)).toEqual(expected);
  });
});

describe("the Sandbox CR records its OpenShift identity source", () => {
  const IDENTITY = {
    "openshell.io/sandbox-id": "sb-0123456789abcdef",
    "openshell.ai/sandbox-id": "sb-0123456789abcdef",
    "openshell.ai/sandbox-name": "demo",
    "openshell.ai/sandbox-workspace": "alice",
  };

  function annotationsOf(settings: RenderSettings, namespaceAnnotations: Record<string, string>) {
    return renderSandbox(validateSandbox(makeSandbox(), settings), settings, namespaceAnnotations).metadata.annotations;
  }

  test("the namespace's range annotations are copied onto the CR, and nothing else from the namespace", () => {
    expect(annotationsOf(makeSettings(), { ...OPENSHIFT, "openshift.io/sa.scc.mcs": "s0:c26,c10" })).toEqual({ ...IDENTITY, ...OPENSHIFT });
  });

  test("with a configured uid the namespace is not consulted, so nothing is copied, as upstream", () => {
    expect(annotationsOf(makeSettings({ sandboxUid: 5000 }), OPENSHIFT)).toEqual(IDENTITY);
  });
});

describe("the sidecar proxy UID", () => {
  test("equal to the resolved sandbox UID is refused as a failed precondition naming the flag", () => {
    const settings = makeSettings({ supervisorTopology: "sidecar", sidecarProxyUid: 1000680000 });
    const err = expectRejection(
      () => renderSandbox(validateSandbox(makeSandbox(), settings), settings, OPENSHIFT),
      "FailedPrecondition",
      "--sidecar-proxy-uid",
    );
    expect(err.message).toContain("1000680000");
  });

  test("is checked even when binary-aware mode runs the proxy as root, as upstream", () => {
    const settings = makeSettings({ supervisorTopology: "sidecar", sidecarProxyUid: 1000, sidecarBinaryAwareNetworkPolicy: true });
    expectRejection(() => checkSidecarProxyIdentity(settings, { uid: 1000, gid: 1000 }), "FailedPrecondition", "--sidecar-proxy-uid");
  });

  test("does not matter in the combined topology, which has no proxy user", () => {
    const settings = makeSettings({ supervisorTopology: "combined", sidecarProxyUid: 1000 });
    expect(() => checkSidecarProxyIdentity(settings, { uid: 1000, gid: 1000 })).not.toThrow();
  });
});
