// Logging through consola: JSON lines in production, consola's pretty output on a terminal.
// Log calls pass structured fields as a trailing plain object; `redact` scrubs anything that could
// carry a secret before it is written, so a careless field never leaks a token or an env value.
import { consola, LogLevels, type ConsolaReporter, type LogObject } from "consola";
import type { LogFormat, LogLevel } from "./config";

const SECRET_KEY = /token|secret|password|authorization|bearer|credential|environment|^env$|^value$/i;

/** Deep copy with every value under a secret-looking key replaced by "[redacted]". */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) ? "[redacted]" : redact(v, depth + 1);
  }
  return out;
}

function jsonReporter(write: (line: string) => void): ConsolaReporter {
  return {
    log(entry: LogObject) {
      const [first, ...rest] = entry.args;
      const line: Record<string, unknown> = {
        time: entry.date.toISOString(),
        level: entry.type,
        ...(entry.tag ? { component: entry.tag } : {}),
        msg: first instanceof Error ? first.message : String(first ?? ""),
      };
      for (const extra of rest) {
        if (extra instanceof Error) line.error = extra.message;
        else if (extra && typeof extra === "object") Object.assign(line, redact(extra));
        else if (extra !== undefined) line.detail = String(extra);
      }
      write(`${JSON.stringify(line)}\n`);
    },
  };
}

function redactingReporter(inner: ConsolaReporter): ConsolaReporter {
  return {
    log(entry, ctx) {
      inner.log({ ...entry, args: entry.args.map((a) => redact(a)) }, ctx);
    },
  };
}

const defaultReporters = [...consola.options.reporters];

/** Reconfigures the global consola instance, so every module's logger follows it. */
export function configureLogging(level: LogLevel, format: LogFormat): void {
  consola.setReporters(
    format === "json" ? [jsonReporter((line) => process.stderr.write(line))] : defaultReporters.map(redactingReporter),
  );
  consola.level = LogLevels[level];
}

type LogFn = (message: string, fields?: Record<string, unknown>) => void;
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

/** A tagged logger; resolved at call time so loggers created at import time follow configureLogging. */
export function logger(tag: string): Logger {
  const at =
    (level: keyof Logger): LogFn =>
    (message, fields) => {
      const tagged = consola.withTag(tag);
      if (fields === undefined) tagged[level](message);
      else tagged[level](message, fields);
    };
  return { trace: at("trace"), debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
