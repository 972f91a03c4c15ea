// What every doctor check reports, and what the checks share: the resolved flags, the cluster
// client and what earlier checks learned (so the platform is detected once, as serve does).
import type { Config } from "../config";
import type { KubeClient } from "../kube";
import type { RenderSettings } from "../sandbox/settings";

export type CheckStatus = "PASS" | "FAIL" | "WARN";

export interface CheckResult {
  name: string;
  status: CheckStatus;
  /** What was found, in a user's words; never a token or other secret. */
  detail: string;
  /** On FAIL (and where useful on WARN): the command to run or the flag to change. */
  fix?: string;
}

export function pass(name: string, detail: string): CheckResult {
  return { name, status: "PASS", detail };
}

export function warn(name: string, detail: string, fix?: string): CheckResult {
  return fix === undefined ? { name, status: "WARN", detail } : { name, status: "WARN", detail, fix };
}

export function fail(name: string, detail: string, fix: string): CheckResult {
  return { name, status: "FAIL", detail, fix };
}

/** The cluster-side checks' shared inputs, once credentials are found and /version answered. */
export interface ClusterContext {
  client: KubeClient;
  config: Config;
  /** The API server's version as `major.minor` numbers, from /version. */
  serverVersion: { major: number; minor: number; gitVersion: string };
  /**
   * The settings the driver would render with: the flags plus the Sandbox API version it would
   * speak (the flag's choice, or v1beta1 when the CRD cannot be read).
   */
  render: RenderSettings;
  /** How long the controller check's probe Sandbox may wait for its first status (default 20 s). */
  controllerProbeMs?: number;
}

/** The message of anything thrown, for a check's detail line. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
