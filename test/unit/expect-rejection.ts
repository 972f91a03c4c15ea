import { expect } from "bun:test";
import { SandboxRequestError, type SandboxRequestErrorCode } from "../../src/sandbox";

/** Runs `fn`, asserts it throws a SandboxRequestError with `code` whose message starts with `field: `. */
export function expectRejection(fn: () => unknown, code: SandboxRequestErrorCode, field: string): SandboxRequestError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(SandboxRequestError);
  const err = caught as SandboxRequestError;
  expect({ code: err.code, field: err.field }).toEqual({ code, field });
  expect(err.message.startsWith(`${field}: `)).toBe(true);
  return err;
}
