// Golden-file comparison: UPDATE_GOLDEN=1 rewrites test/unit/golden/<name>.json; otherwise the
// file must exist and match.

import { expect } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const GOLDEN_DIR = join(import.meta.dir, "golden");

export function expectGolden(name: string, value: unknown): void {
  const file = join(GOLDEN_DIR, `${name}.json`);
  const actual: unknown = JSON.parse(JSON.stringify(value));
  if (process.env.UPDATE_GOLDEN === "1") {
    writeFileSync(file, `${JSON.stringify(actual, null, 2)}\n`);
    return;
  }
  if (!existsSync(file)) {
    throw new Error(`golden file ${file} is missing; run with UPDATE_GOLDEN=1 to create it`);
  }
  expect(actual).toEqual(JSON.parse(readFileSync(file, "utf8")));
}
