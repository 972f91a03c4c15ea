// Requests too large to create, or to run, are refused up front as INVALID_ARGUMENT naming the
// field that made them large, instead of failing in the API server (413, etcd "too large") or in
// the container runtime (an environment string Linux will not exec).
import { describe, expect, test } from "bun:test";
import { renderSandbox, validateSandbox } from "../../src/sandbox";
import { checkObjectSize, MAX_ENV_STRING_BYTES } from "../../src/sandbox/object-size";
import { expectRejection } from "./expect-rejection";
import { makeSandbox, makeSettings } from "./fixtures";

type Spec = NonNullable<Parameters<typeof makeSandbox>[0]>["spec"];

function check(spec: Spec): void {
  const settings = makeSettings();
  const validated = validateSandbox(makeSandbox({ spec }), settings);
  checkObjectSize(validated, renderSandbox(validated, settings));
}

/** `count` variables of about `bytes` each, so no single one is large. */
function manyVariables(count: number, bytes: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`VAR_${i}`, "v".repeat(bytes)]));
}

describe("size limits of a rendered sandbox", () => {
  test("a user environment of some 70 KiB, written twice, is accepted", () => {
    expect(() => check({ environment: manyVariables(500, 100), template: { environment: manyVariables(200, 100) } })).not.toThrow();
  });

  test("one variable longer than Linux accepts in an environment is refused, naming that variable", () => {
    const err = expectRejection(() => check({ environment: { BIG: "x".repeat(MAX_ENV_STRING_BYTES) } }), "InvalidArgument", 'sandbox.spec.environment["BIG"]');
    expect(err.message).toContain("Linux");
    expect(err.message).not.toContain("xxxx");
  });

  test("many small variables whose OPENSHELL_USER_ENVIRONMENT copy is too long are refused, naming the env map", () => {
    const err = expectRejection(() => check({ environment: manyVariables(1500, 100) }), "InvalidArgument", "sandbox.spec.environment");
    expect(err.message).toContain("OPENSHELL_USER_ENVIRONMENT");
  });

  test("the template's environment is named when it is the larger part of the user environment", () => {
    expectRejection(
      () => check({ environment: { A: "1" }, template: { environment: manyVariables(1500, 100) } }),
      "InvalidArgument",
      "sandbox.spec.template.environment",
    );
  });

  test("a command too long for its OPENSHELL_MAIN_PROCESS_SPEC variable is refused, naming the command", () => {
    expectRejection(() => check({ command: ["run", "a".repeat(MAX_ENV_STRING_BYTES)] }), "InvalidArgument", "sandbox.spec.command");
  });

  test("a resource over 1 MiB is refused, naming the field that contributes most", () => {
    const labels = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`label-${i}`, "v".repeat(50)]));
    const err = expectRejection(() => check({ template: { labels } }), "InvalidArgument", "sandbox.spec.template.labels");
    expect(err.message).toContain("1.5 MiB");
  });
});
