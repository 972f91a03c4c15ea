// `openshell-driver-k8s doctor`: wiring only. The same flags as serve (so a deployment's command
// line can be checked as it is) plus --output; prints the checks and exits 0, or 1 on a FAIL.
import type { Config } from "../config";
import { ConfigError } from "../config";
import { exitCodeOf, formatJson, formatText, type OutputFormat } from "../doctor/report";
import { runDoctor } from "../doctor/run-checks";
import { configureLogging } from "../log";

export const OUTPUT_FLAG = "output";

/**
 * Takes `--output=json`, `--output json` out of the command line; the rest are serve's flags.
 * Throws ConfigError for a value that is neither text nor json.
 */
export function takeOutputFlag(rawArgs: string[]): { output: OutputFormat; rest: string[] } {
  const rest: string[] = [];
  let output: string = "text";
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === `--${OUTPUT_FLAG}`) {
      const next = rawArgs[i + 1];
      if (next === undefined || next.startsWith("--")) throw new ConfigError(OUTPUT_FLAG, "needs a value (text|json)");
      output = next;
      i++;
    } else if (arg.startsWith(`--${OUTPUT_FLAG}=`)) {
      output = arg.slice(`--${OUTPUT_FLAG}=`.length);
    } else {
      rest.push(arg);
    }
  }
  if (output !== "text" && output !== "json") throw new ConfigError(OUTPUT_FLAG, `"${output}" is not one of "text", "json"`);
  return { output, rest };
}

export async function doctor(config: Config, output: OutputFormat): Promise<number> {
  // Logs go to stderr; at the default level only warnings, so the report is what the user reads.
  configureLogging(config.server.logLevel === "info" ? "warn" : config.server.logLevel, config.server.logFormat);
  const results = await runDoctor(config);
  process.stdout.write(output === "json" ? formatJson(results) : formatText(results, { colour: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR }));
  return exitCodeOf(results);
}
