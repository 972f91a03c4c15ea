// --max-request-bytes: a byte size, plain or with a binary suffix, within sane bounds.
import { describe, expect, test } from "bun:test";
import { ConfigError, resolveConfig } from "../../src/config";

function maxRequestBytes(raw: string | undefined, env: Record<string, string> = {}): number {
  return resolveConfig(raw === undefined ? {} : { "max-request-bytes": raw }, env, false).server.maxRequestBytes;
}

describe("--max-request-bytes", () => {
  test("defaults to 4 MiB, far below connect's 4 GiB", () => {
    expect(maxRequestBytes(undefined)).toBe(4 * 1024 * 1024);
  });

  test("takes plain bytes or Ki/Mi/Gi, from the flag or OPENSHELL_DRIVER_MAX_REQUEST_BYTES", () => {
    expect(maxRequestBytes("65536")).toBe(65_536);
    expect(maxRequestBytes("512Ki")).toBe(512 * 1024);
    expect(maxRequestBytes("16Mi")).toBe(16 * 1024 * 1024);
    expect(maxRequestBytes("1Gi")).toBe(1024 ** 3);
    expect(maxRequestBytes(undefined, { OPENSHELL_DRIVER_MAX_REQUEST_BYTES: "8Mi" })).toBe(8 * 1024 * 1024);
  });

  test("refuses other units, fractions and sizes outside 1Ki..1Gi, naming the flag", () => {
    for (const raw of ["4MB", "4M", "1.5Mi", "", "-1", "1023", "2Gi", "lots"]) {
      expect(() => maxRequestBytes(raw)).toThrow(ConfigError);
      expect(() => maxRequestBytes(raw)).toThrow("invalid --max-request-bytes");
    }
  });
});
