// Strings that reach a process or the API server intact or not at all. A NUL cannot be part of an
// environment entry or an argument (execve takes NUL-terminated strings: the container fails to
// start after CreateSandbox said OK), and a lone UTF-16 surrogate (possible in a JSON-encoded
// request, never in a binary one) is not UTF-8 at all: Kubernetes would store U+FFFD instead.

import type { DriverSandbox } from "../../gen/compute_driver_pb";
import { invalidArgument, keyPath } from "../errors";
import { PLATFORM_CONFIG_PATH, type PlatformConfig } from "../platform-config";

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function textProblem(value: string): string | undefined {
  if (value.includes("\u0000")) return "contains a NUL character, which no process environment, argument or annotation can carry";
  if (LONE_SURROGATE.test(value)) return "is not valid UTF-8 (it holds a lone surrogate)";
  return undefined;
}

/** The request's two environment maps, each with its field path. */
export function requestEnvironments(sandbox: DriverSandbox): [string, Record<string, string>][] {
  return [
    ["sandbox.spec.template.environment", sandbox.spec?.template?.environment ?? {}],
    ["sandbox.spec.environment", sandbox.spec?.environment ?? {}],
  ];
}

export function checkTextValues(sandbox: DriverSandbox, platformConfig: PlatformConfig): void {
  const spec = sandbox.spec;
  const maps: [string, Record<string, string>, string][] = [
    ...requestEnvironments(sandbox).map(([path, env]): [string, Record<string, string>, string] => [path, env, "environment value"]),
    [`${PLATFORM_CONFIG_PATH}.annotations`, platformConfig.annotations, "annotation value"],
  ];
  for (const [path, map, what] of maps) {
    for (const [key, value] of Object.entries(map)) {
      const problem = textProblem(value);
      if (problem) throw invalidArgument(keyPath(path, key), `${what} ${problem}`);
    }
  }
  spec?.command.forEach((arg, i) => {
    const problem = textProblem(arg);
    if (problem) throw invalidArgument(`sandbox.spec.command[${i}]`, `argument ${problem}`);
  });
}
