#!/usr/bin/env bun
// Command line: serve | client. Wiring only; each command's work lives in src/cli/.
import { defineCommand, runMain, type ArgsDef } from "citty";
import pkg from "../package.json" with { type: "json" };
import { runClient } from "./cli/client";
import { serve } from "./cli/serve";
import { ConfigError, envVarFor, FLAGS, resolveConfig } from "./config";

const NAME = "openshell-driver-k8s";

function fail(message: string, code: number): never {
  process.stderr.write(`${NAME}: ${message}\n`);
  process.exit(code);
}

const serveArgs: ArgsDef = Object.fromEntries(
  Object.entries(FLAGS).map(([flag, spec]) => [
    flag,
    {
      type: "string",
      description: `${spec.description} [${envVarFor(flag)}]${spec.fallback ? ` (default: ${spec.fallback})` : ""}`,
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

const serveCommand = defineCommand({
  meta: { name: "serve", description: "Serve the ComputeDriver gRPC API on a Unix socket" },
  args: serveArgs,
  async run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, Object.keys(FLAGS));
    const given: Record<string, string | undefined> = {};
    for (const flag of Object.keys(FLAGS)) {
      const value = args[flag];
      if (typeof value === "string") given[flag] = value;
      else if (value === true) given[flag] = "";
    }
    let config;
    try {
      config = resolveConfig(given, process.env, Boolean(process.stdout.isTTY));
    } catch (err) {
      if (err instanceof ConfigError) fail(err.message, 2);
      throw err;
    }
    try {
      await serve(config, { name: NAME, version: pkg.version, defaultImage: config.defaultImage });
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
    const socket = (args.socket as string | undefined) ?? process.env[envVarFor("socket")] ?? FLAGS.socket.fallback;
    const abort = new AbortController();
    process.once("SIGINT", () => abort.abort());
    process.once("SIGTERM", () => abort.abort());
    try {
      const code = await runClient({
        socket,
        method: String(args.method),
        request: args.request as string | undefined,
        out: (line) => process.stdout.write(`${line}\n`),
        signal: abort.signal,
      });
      process.exit(code);
    } catch (err) {
      fail((err as Error).message, 2);
    }
  },
});

const main = defineCommand({
  meta: { name: NAME, version: pkg.version, description: pkg.description },
  subCommands: { serve: serveCommand, client: clientCommand },
});

await runMain(main);
