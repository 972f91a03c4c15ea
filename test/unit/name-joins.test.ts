import { describe, expect, test } from "bun:test";
import { validateSandbox } from "../../src/sandbox";
import { placementOf } from "../../src/sandbox/placement";
import type { RenderSettings } from "../../src/sandbox/settings";
import { expectRejection } from "./expect-rejection";
import { makeSandbox, makeSettings } from "./fixtures";

describe("workspace and sandbox names join without collisions", () => {
  test("workspace 'a' + name 'b--c' and workspace 'a--b' + name 'c' would share one CR name, so both are refused naming their field", () => {
    const settings = makeSettings();
    expect(placementOf({ workspace: "a", name: "b--c" }, settings).kubeName).toBe(placementOf({ workspace: "a--b", name: "c" }, settings).kubeName);
    const byName = expectRejection(() => validateSandbox(makeSandbox({ workspace: "a", name: "b--c" }), settings), "InvalidArgument", "sandbox.name");
    expect(byName.message).toContain("'b--c' contains '--'");
    expectRejection(() => validateSandbox(makeSandbox({ workspace: "a--b", name: "c" }), settings), "InvalidArgument", "sandbox.workspace");
  });

  for (const workspaceMode of ["shared", "managed", "operator"] as const) {
    test(`'--' in a name is refused in ${workspaceMode} mode too (hosts join the names there)`, () => {
      expectRejection(() => validateSandbox(makeSandbox({ name: "x--y" }), makeSettings({ workspaceMode })), "InvalidArgument", "sandbox.name");
    });
  }

  test("single dashes stay accepted (upstream's names)", () => {
    expect(validateSandbox(makeSandbox({ workspace: "team-a", name: "my-box" }), makeSettings()).kubeName).toBe("team-a--my-box");
  });
});

describe("names whose controller Service cannot exist are refused (v1alpha1 controllers name a Service after the CR)", () => {
  const v1alpha1 = (more: Partial<RenderSettings> = {}) => makeSettings({ apiVersion: "v1alpha1", ...more });

  test("shared mode: a workspace starting with a digit starts the CR name, so the workspace is named", () => {
    const err = expectRejection(() => validateSandbox(makeSandbox({ workspace: "1team" }), v1alpha1()), "InvalidArgument", "sandbox.workspace");
    expect(err.message).toContain("DNS-1035");
  });

  test("per-workspace namespaces: a name starting with a digit is refused naming sandbox.name", () => {
    expectRejection(() => validateSandbox(makeSandbox({ name: "9lives" }), v1alpha1({ workspaceMode: "managed" })), "InvalidArgument", "sandbox.name");
  });

  test("v1beta1 controllers make no Service, so a digit first stays accepted there", () => {
    expect(validateSandbox(makeSandbox({ workspace: "1team" }), makeSettings({ apiVersion: "v1beta1" })).kubeName).toStartWith("1team--");
  });
});
