import { describe, expect, test } from "bun:test";
import { redact } from "../../src/log";

describe("log redaction", () => {
  test("values under secret-looking keys are replaced, at any depth, and the rest is kept", () => {
    const out = redact({
      sandboxId: "sb-1",
      sandbox_token: "jwt",
      headers: { Authorization: "Bearer abc" },
      spec: { environment: { API_KEY: "v" }, env: [{ name: "A", value: "secret" }] },
      password: "p",
    });
    expect(out).toEqual({
      sandboxId: "sb-1",
      sandbox_token: "[redacted]",
      headers: { Authorization: "[redacted]" },
      spec: { environment: "[redacted]", env: "[redacted]" },
      password: "[redacted]",
    });
  });
});
