// spec.log_level, which reaches the supervisor as OPENSHELL_LOG_LEVEL. The gateway forwards any value
// of at most 32 bytes; the supervisor reads it as a tracing EnvFilter, so besides a level word in any
// case it takes `off`, a verbosity digit 0-5, and per-target directives like
// `info,openshell_sandbox=debug`. A directive the supervisor cannot parse it silently drops, so
// such values are refused here instead; so is a bare target (`verbose`), almost always a mistyped level.

export const LOG_LEVEL_MAX_BYTES = 32;

const LEVEL = "(?:trace|debug|info|warn|error|off|[0-5])";
const TARGET = "[\\w:.-]+";
const SPAN = "\\[[^\\]]*\\]";
const DIRECTIVE = new RegExp(`^(?:${LEVEL}|(?:${TARGET}(?:${SPAN})?|${SPAN})=${LEVEL})$`, "i");

export function checkLogLevel(value: string): string | undefined {
  const bytes = new TextEncoder().encode(value).length;
  if (bytes > LOG_LEVEL_MAX_BYTES) return `is ${bytes} bytes, over the gateway's limit of ${LOG_LEVEL_MAX_BYTES}`;
  const directives = value.split(",").filter((d) => d !== "");
  if (directives.length === 0) return "names no level";
  const bad = directives.find((d) => !DIRECTIVE.test(d));
  if (bad === undefined) return undefined;
  return `'${bad}' is neither a level (trace, debug, info, warn, error, off, or 0-5, any case) nor a target=level directive`;
}
