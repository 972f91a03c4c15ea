#!/usr/bin/env bun
// Command line: serve | client | doctor. Wiring only; each command's work lives in src/cli/.
import { defineCommand, runMain, type ArgsDef } from "citty";
import pkg from "../package.json" with { type: "json" };
import { lineWriter, runClient } from "./cli/client";
import { doctor, OUTPUT_FLAG, takeOutputFlag } from "./cli/doctor";
import { serve } from "./cli/serve";
import { ConfigError, envVarFor, FLAGS, resolveConfig, type FlagSpec } from "./config";

const NAME = "openshell-driver-k8s";

function fail(message: string, code: number): never {
  process.stderr.write(`${NAME}: ${message}\n`);
  process.exit(code);
}

const serveArgs: ArgsDef = Object.fromEntries(
  Object.entries(FLAGS).map(([flag, spec]) => [
    flag,
    {
      type: "boolean" in spec ? "boolean" : "string",
      description: `${spec.description} [${[envVarFor(flag), ...("aliases" in spec ? spec.aliases : [])].join(", ")}]${spec.fallback ? ` (default: ${spec.fallback})` : ""}`,
      valueHint: "value",
    },
  ]),
);

/** citty ignores flags it does not know; a typo must not silently fall back to a default. */
function rejectUnknownFlags(rawArgs: string[], known: Iterable<string>): void {
  const allowed = new Set([...known, "help", "h", "version", "v"]);
  for (const arg of rawArgs) {
    if (arg === "--") break;
    if (!arg.startsWith("-")) continue;
    const name = arg.replace(/^--?/, "").split("=")[0]!;
    if (!allowed.has(name)) fail(`unknown flag ${arg.split("=")[0]} (see --help)`, 2);
  }
}

/**
 * The serve flags as typed: `--flag=value`, `--flag value`, and for switches `--flag` (true) or
 * `--no-flag` (false). Read here rather than from citty, which would take the flag after a bare
 * switch as its value and accept any word as a boolean.
 */
function serveFlagValues(rawArgs: string[]): Record<string, string> {
  const flags: Record<string, FlagSpec> = FLAGS;
  const given: Record<string, string> = {};
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (!arg.startsWith("--") || arg === "--") fail(`unexpected argument "${arg}" (flags are --name=value)`, 2);
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    const negated = name.startsWith("no-") ? flags[name.slice(3)] : undefined;
    if (negated?.boolean && inline === undefined) {
      given[name.slice(3)] = "false";
      continue;
    }
    const spec = flags[name];
    if (!spec) fail(`unknown flag --${name} (see --help)`, 2);
    const next = rawArgs[i + 1];
    const nextIsValue = next !== undefined && !next.startsWith("--");
    if (inline !== undefined) given[name] = inline;
    else if (nextIsValue) given[name] = rawArgs[++i]!;
    else if (spec.boolean) given[name] = "";
    else fail(`invalid --${name}: needs a value`, 2);
  }
  return given;
}

const serveCommand = defineCommand({
  meta: { name: "serve", description: "Serve the ComputeDriver gRPC API on a Unix socket" },
  args: serveArgs,
  async run({ rawArgs }) {
    const given = serveFlagValues(rawArgs);
    let config;
    try {
      config = resolveConfig(given, process.env, Boolean(process.stdout.isTTY));
    } catch (err) {
      if (err instanceof ConfigError) fail(err.message, 2);
      throw err;
    }
    try {
      await serve(config, { name: NAME, version: pkg.version, defaultImage: config.render.defaultImage });
    } catch (err) {
      fail((err as Error).message, 1);
    }
  },
});

const clientCommand = defineCommand({
  meta: { name: "client", description: "Call a ComputeDriver RPC on a socket and print the response as JSON" },
  args: {
    socket: {
      type: "string",
      description: `Driver socket [${envVarFor("socket")}] (default: ${FLAGS.socket.fallback})`,
      valueHint: "path",
    },
    method: { type: "positional", description: "RPC name, e.g. GetCapabilities or WatchSandboxes", required: true },
    request: { type: "positional", description: "Request as JSON (default: {})", required: false },
  },
  async run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, ["socket"]);
    const socket =
      (args.socket as string | undefined) ??
      [envVarFor("socket"), ...FLAGS.socket.aliases].map((name) => process.env[name]).find((v) => v !== undefined) ??
      FLAGS.socket.fallback;
    const abort = new AbortController();
    process.once("SIGINT", () => abort.abort());
    process.once("SIGTERM", () => abort.abort());
    try {
      const code = await runClient({
        socket,
        method: String(args.method),
        request: args.request as string | undefined,
        out: lineWriter(process.stdout),
        err: lineWriter(process.stderr),
        signal: abort.signal,
      });
      process.exit(code);
    } catch (err) {
      fail((err as Error).message, 2);
    }
  },
});

const doctorCommand = defineCommand({
  meta: { name: "doctor", description: "Check that the cluster is ready for serve with these flags; exit 1 if any check fails" },
  args: { ...serveArgs, [OUTPUT_FLAG]: { type: "string", description: "text | json (default: text)", valueHint: "format" } },
  async run({ rawArgs }) {
    let config;
    let output;
    try {
      const taken = takeOutputFlag(rawArgs);
      output = taken.output;
      config = resolveConfig(serveFlagValues(taken.rest), process.env, Boolean(process.stdout.isTTY));
    } catch (err) {
      if (err instanceof ConfigError) fail(err.message, 2);
      throw err;
    }
    try {
      process.exit(await doctor(config, output));
    } catch (err) {
      fail((err as Error).message, 1);
    }
  },
});

const main = defineCommand({
  meta: { name: NAME, version: pkg.version, description: pkg.description },
  subCommands: { serve: serveCommand, client: clientCommand, doctor: doctorCommand },
});

await runMain(main);
