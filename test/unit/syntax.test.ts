import { describe, expect, test } from "bun:test";
import {
  checkDns1123Label,
  checkDns1123Subdomain,
  checkEnvName,
  checkLabelValue,
  checkQualifiedName,
  checkImageReference,
  isImageReference,
  isQuantity,
  quantityToNumber,
} from "../../src/sandbox";

describe("Kubernetes quantities", () => {
  test.each(["1", "0", "500m", "1.5", ".5", "5.", "+1", "-1", "4Gi", "128Mi", "1Ki", "2Ei", "1n", "10u", "1k", "1M", "1G", "1T", "1P", "1E", "1e3", "1E-3", "1e+2"])(
    "%p is a quantity",
    (q) => expect(isQuantity(q)).toBe(true),
  );
  test.each(["", "1GB", "1gi", "1K", "one", "1.2.3", "1 Gi", "Gi", "1e", "1e1.5", "0x10", "1Mi "])("%p is not a quantity", (q) =>
    expect(isQuantity(q)).toBe(false),
  );
  test("quantities compare by value across suffixes", () => {
    expect(quantityToNumber("500m")).toBe(0.5);
    expect(quantityToNumber("1Gi")).toBe(1024 ** 3);
    expect(quantityToNumber("1e3")).toBe(1000);
    expect(quantityToNumber("2")! > quantityToNumber("1500m")!).toBe(true);
    expect(quantityToNumber("nope")).toBeUndefined();
  });
});

describe("OCI image references", () => {
  test("a rejected reference is not echoed back: it may carry credentials before the '@'", () => {
    for (const ref of ["alice:s3cr3t@registry.example.com/app:1", "alice:s3cr3t@x/Y", "x:pa$$word!"]) {
      const problem = checkImageReference(ref);
      expect(problem).toBeDefined();
      expect(problem).not.toContain("s3cr3t");
      expect(problem).not.toContain("pa$$word");
    }
  });

  test.each([
    "ubuntu",
    "ubuntu:24.04",
    "library/ubuntu:latest",
    "ghcr.io/nvidia/openshell/supervisor:0.9.0",
    "localhost:5000/my_team/app__x.y-z---w:v1",
    "Registry.Example.COM/team/app",
    "[::1]:5000/app",
    `ubuntu@sha256:${"0".repeat(64)}`,
    `quay.io/org/app:1.0@sha256:${"f".repeat(64)}`,
    `app:${"t".repeat(128)}`,
  ])("%p is a valid reference", (ref) => expect(isImageReference(ref)).toBe(true));

  test.each([
    "",
    "Ubuntu",
    "ubuntu:",
    ":latest",
    "ubuntu:-bad",
    `app:${"t".repeat(129)}`,
    "ubuntu@sha256:abc",
    `ubuntu@md5:${"0".repeat(32)}`,
    `ubuntu@sha256:${"A".repeat(64)}`,
    "team//app",
    "team/app/",
    "-app",
    "app-",
    "app..x",
    "app___x",
    "https://ghcr.io/app",
    `${"a".repeat(256)}`,
  ])("%p is not a valid reference", (ref) => expect(isImageReference(ref)).toBe(false));

  test("a 255-character name is still accepted", () => {
    expect(isImageReference(`r.io/${"a".repeat(250)}:v1`)).toBe(true);
  });
});

describe("names", () => {
  test.each(["a", "demo", "a-b-1", "0abc", "a".repeat(63)])("%p is a DNS-1123 label", (n) =>
    expect(checkDns1123Label(n)).toBeUndefined(),
  );
  test.each(["", "A", "a_b", "-a", "a-", "a.b", "a".repeat(64)])("%p is not a DNS-1123 label", (n) =>
    expect(checkDns1123Label(n)).toBeDefined(),
  );
  test.each(["a", "a.b-c.d", "my-claim"])("%p is a DNS-1123 subdomain", (n) => expect(checkDns1123Subdomain(n)).toBeUndefined());
  test.each(["", "a..b", ".a", "A.b", `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(63)}`])(
    "%p is not a DNS-1123 subdomain",
    (n) => expect(checkDns1123Subdomain(n)).toBeDefined(),
  );
  test.each(["team", "example.com/team", "A_b.c-D", "kubernetes.io/hostname"])("%p is a qualified name", (n) =>
    expect(checkQualifiedName(n)).toBeUndefined(),
  );
  test.each(["", "/team", "a/b/c", "Example.com/x", "x/", "-a", `${"a".repeat(64)}`])("%p is not a qualified name", (n) =>
    expect(checkQualifiedName(n)).toBeDefined(),
  );
  test.each(["", "v1", "A.b_c-d", "a".repeat(63)])("%p is a label value", (v) => expect(checkLabelValue(v)).toBeUndefined());
  test.each(["-a", "a b", "a/b", "a".repeat(64)])("%p is not a label value", (v) => expect(checkLabelValue(v)).toBeDefined());
});

describe("environment variable names", () => {
  test.each(["A", "_", "PATH", "my_var2", "_X1"])("%p is accepted", (n) => expect(checkEnvName(n)).toBeUndefined());
  test.each(["", "1A", "A-B", "A.B", "A=B", "A B", "Ä"])("%p is rejected because a login shell would drop it", (n) =>
    expect(checkEnvName(n)).toBeDefined(),
  );
});
