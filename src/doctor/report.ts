// How doctor prints its checks: one line per check (`PASS|FAIL|WARN  <name>  <detail>`, a `fix:`
// line under a failure), or one JSON document for scripts; and the exit code they add up to.
import type { CheckResult, CheckStatus } from "./checks";

export type OutputFormat = "text" | "json";

/** Exit codes: 0 nothing failed (warnings included), 1 a check failed. 2 (bad flags) is the CLI's. */
export function exitCodeOf(results: readonly CheckResult[]): 0 | 1 {
  return results.some((r) => r.status === "FAIL") ? 1 : 0;
}

export interface DoctorDocument {
  ok: boolean;
  checks: CheckResult[];
}

export function formatJson(results: readonly CheckResult[]): string {
  const document: DoctorDocument = {
    ok: exitCodeOf(results) === 0,
    checks: results.map(({ name, status, detail, fix }) => (fix === undefined ? { name, status, detail } : { name, status, detail, fix })),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

const COLOURS: Record<CheckStatus, string> = { PASS: "\x1b[32m", FAIL: "\x1b[31m", WARN: "\x1b[33m" };
const RESET = "\x1b[0m";

/** Aligned columns; colour only for a terminal, so piped or logged output stays plain text. */
export function formatText(results: readonly CheckResult[], { colour }: { colour: boolean }): string {
  const width = Math.max(0, ...results.map((r) => r.name.length));
  const indent = " ".repeat("PASS  ".length);
  const lines: string[] = [];
  for (const { name, status, detail, fix } of results) {
    const label = colour ? `${COLOURS[status]}${status}${RESET}` : status;
    lines.push(`${label}  ${name.padEnd(width)}  ${detail}`);
    if (fix !== undefined) lines.push(`${indent}${" ".repeat(width)}  fix: ${fix}`);
  }
  const count = (status: CheckStatus) => results.filter((r) => r.status === status).length;
  lines.push("", `${count("PASS")} passed, ${count("FAIL")} failed, ${count("WARN")} warnings`);
  return `${lines.join("\n")}\n`;
}
