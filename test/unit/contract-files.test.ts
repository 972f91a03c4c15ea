// The wire contract is vendored, never edited: proto/ must equal the shared copy byte for byte,
// and src/gen/ must be exactly what `just gen` makes from it.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "../support/paths";

const SHARED_CONTRACT = join(REPO, "../shared/contract");

describe("vendored contract", () => {
  test.if(existsSync(SHARED_CONTRACT))("proto/*.proto are byte-identical to the shared contract", () => {
    for (const file of readdirSync(SHARED_CONTRACT).filter((f) => f.endsWith(".proto"))) {
      expect(readFileSync(join(REPO, "proto", file)).equals(readFileSync(join(SHARED_CONTRACT, file)))).toBe(true);
    }
  });

  test("the committed generated code is what buf generates from proto/ today", () => {
    const out = mkdtempSync(join(tmpdir(), "osdrv-gen-"));
    const template = JSON.stringify({
      version: "v2",
      plugins: [{ local: join(REPO, "node_modules/.bin/protoc-gen-es"), out, opt: ["target=ts", "import_extension=none"] }],
    });
    const proc = Bun.spawnSync([join(REPO, "node_modules/.bin/buf"), "generate", "--template", template], { cwd: REPO, stderr: "pipe" });
    expect(proc.stderr.toString()).toBe("");
    const committed = readdirSync(join(REPO, "src/gen")).sort();
    expect(readdirSync(out).sort()).toEqual(committed);
    for (const file of committed) {
      expect({ file, same: readFileSync(join(out, file), "utf8") === readFileSync(join(REPO, "src/gen", file), "utf8") }).toEqual({ file, same: true });
    }
  });
});
