// The Helm chart's driver.flags against src/config/flags.ts: every serve flag is a value with the
// type and choices its parser accepts, listed in values.yaml, so a new flag that is not added to
// the chart (bun scripts/gen-chart-flags.ts) fails here.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FLAGS, type FlagName, type ConfigDraft } from "../../src/config/flags";
import { chartFlagKey } from "../../scripts/gen-chart-flags";
import { REPO } from "../support/paths";

const CHART = join(REPO, "deploy/helm/openshell-driver-k8s");
const schema = JSON.parse(readFileSync(join(CHART, "values.schema.json"), "utf8"));
const flagSchema = schema.properties.driver.properties.flags as {
  additionalProperties: boolean;
  properties: Record<string, { type?: string[]; enum?: (string | null)[]; description: string }>;
};
const values = Bun.YAML.parse(readFileSync(join(CHART, "values.yaml"), "utf8")) as { driver: { flags: Record<string, unknown> } };
const names = Object.keys(FLAGS) as FlagName[];

function emptyDraft(): ConfigDraft {
  return { server: {}, render: { upstreamProxy: {}, managedSshIngress: {}, requestPolicy: {} }, platform: {} };
}

/** Whether the driver's own parser takes `raw` for `flag`. */
function parserAccepts(flag: FlagName, raw: string): boolean {
  try {
    FLAGS[flag].apply(emptyDraft(), raw, flag);
    return true;
  } catch {
    return false;
  }
}

describe("driver.flags in the chart", () => {
  test("the schema has exactly one value per serve flag, and refuses any other key", () => {
    expect(Object.keys(flagSchema.properties).sort()).toEqual(names.map(chartFlagKey).sort());
    expect(flagSchema.additionalProperties).toBe(false);
  });

  test("values.yaml lists every serve flag, so the defaults file documents them all", () => {
    expect(Object.keys(values.driver.flags).sort()).toEqual(names.map(chartFlagKey).sort());
  });

  test("each value's description names its flag", () => {
    for (const flag of names) expect(flagSchema.properties[chartFlagKey(flag)]!.description).toStartWith(`--${flag}: `);
  });

  test("switch flags are booleans in the schema and no other flag is", () => {
    const switches = names.filter((flag) => "boolean" in FLAGS[flag]);
    const booleans = names.filter((flag) => flagSchema.properties[chartFlagKey(flag)]!.type?.includes("boolean"));
    expect(booleans).toEqual(switches);
  });

  test("every choice the schema offers is one the driver's parser takes, and the parser refuses a value outside them", () => {
    const withChoices = names.filter((flag) => flagSchema.properties[chartFlagKey(flag)]!.enum);
    expect(withChoices.length).toBeGreaterThan(5);
    for (const flag of withChoices) {
      const choices = flagSchema.properties[chartFlagKey(flag)]!.enum!.filter((c): c is string => c !== null);
      expect({ flag, refused: choices.filter((c) => !parserAccepts(flag, c)) }).toEqual({ flag, refused: [] });
      expect({ flag, bogus: parserAccepts(flag, "bogus") }).toEqual({ flag, bogus: false });
    }
  });

  test("a string flag without choices in the schema is one whose parser takes free-form values, so no choice list is missing", () => {
    for (const flag of names) {
      const prop = flagSchema.properties[chartFlagKey(flag)]!;
      if (prop.enum || prop.type?.includes("boolean") || prop.type?.includes("integer")) continue;
      // A parser that refuses every one of these samples takes only fixed words, which the
      // schema should list as choices.
      const free = ["bogus", "x", "/var/run/openshell-compute/x.sock", "a=b", "1Mi", "30s", "ns/name", "10.0.0.1", "http://h:1", "RuntimeDefault", "image:tag", "0.0.0.0"].some((raw) => parserAccepts(flag, raw));
      expect({ flag, free }).toEqual({ flag, free: true });
    }
  });

  test("flag names become the chart's keys and back into the driver's variables unchanged", () => {
    for (const flag of names) {
      const key = chartFlagKey(flag);
      // The chart turns the key into OPENSHELL_DRIVER_<snakecase(key) | upper>.
      const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      expect(snake.replaceAll("_", "-")).toBe(flag);
    }
  });
});
