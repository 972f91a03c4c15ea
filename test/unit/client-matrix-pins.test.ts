// The client matrix's pins and the README's table of tested clients must agree: the README is
// what a user reads to know which clients the driver was tried with.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { GRPCIO_NEWEST, GRPCIO_OLDEST_SUPPORTED, pinnedClientVersions } from "../support/client-matrix";
import { REPO } from "../support/paths";

const README = readFileSync(join(REPO, "README.md"), "utf8");

describe("the contract tier's client matrix", () => {
  test("the README's client table names every pinned client version", () => {
    const table = README.slice(README.indexOf("**Client matrix**"), README.indexOf("**Chaos and fuzz tier**"));
    for (const [client, version] of Object.entries(pinnedClientVersions())) {
      expect({ client, inReadme: table.includes(`| ${version} |`) }).toEqual({ client, inReadme: true });
    }
  });

  test("each tested grpcio has a hash-pinned requirements file, and no other version does", () => {
    const files = readdirSync(join(REPO, "test/python-clients")).toSorted();
    expect(files).toEqual([`grpcio-${GRPCIO_OLDEST_SUPPORTED}.txt`, `grpcio-${GRPCIO_NEWEST}.txt`].toSorted());
    for (const version of [GRPCIO_NEWEST, GRPCIO_OLDEST_SUPPORTED]) {
      const pins = readFileSync(join(REPO, `test/python-clients/grpcio-${version}.txt`), "utf8").replace(/\\\n/g, " ");
      for (const line of pins.split("\n").filter((l) => l.trim() && !l.startsWith("#"))) {
        expect(line).toMatch(/^\S+==\S+( +--hash=sha256:[0-9a-f]{64})+\s*$/);
      }
      expect(pins).toContain(`grpcio==${version} `);
    }
  });
});
