// The README's flag table is what users read; it must list exactly the flags the binary takes.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { envVarFor, FLAGS } from "../../src/config";
import { REPO } from "../support/paths";

describe("README", () => {
  test("the flag table lists every flag with its environment variables and default, and nothing else", () => {
    const readme = readFileSync(join(REPO, "README.md"), "utf8");
    const rows = [...readme.matchAll(/^\| `--([a-z-]+)` \| `([A-Z_]+)` \| (.+?) \| (.+?) \|/gm)].map((m) => ({
      flag: m[1]!,
      env: m[2]!,
      aliases: m[3] === "—" ? [] : m[3]!.replaceAll("`", "").split(", "),
      fallback: m[4] === "—" ? "" : m[4]!.replaceAll("`", ""),
    }));
    const expected = Object.entries(FLAGS).map(([flag, spec]) => ({
      flag,
      env: envVarFor(flag),
      aliases: "aliases" in spec ? [...spec.aliases] : [],
      fallback: spec.fallback ?? "",
    }));
    expect(rows).toEqual(expected);
  });
});
