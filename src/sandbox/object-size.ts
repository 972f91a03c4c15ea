// Size limits a rendered Sandbox must respect, checked before anything is written so an oversized
// request is refused as INVALID_ARGUMENT naming the field that made it big, instead of failing the
// create with HTTP 413 or an etcd "request is too large" (or, worse, creating a pod that cannot
// start).
//
// - etcd refuses requests over 1.5 MiB (--max-request-bytes) and the API server bodies over 3 MiB;
//   the stored object also gains status, managedFields (which repeat every env name) and the
//   controller's annotations, so the rendered CR is kept under 1 MiB.
// - Linux refuses to exec a process any one of whose environment strings ("NAME=value\0") exceeds
//   MAX_ARG_STRLEN, 32 pages: 128 KiB on the usual 4 KiB pages. Each user variable, and the JSON of
//   all of them in OPENSHELL_USER_ENVIRONMENT, is such a string for the supervisor's exec.
//
// User variables are rendered twice, as upstream does: as container variables and inside
// OPENSHELL_USER_ENVIRONMENT (what the supervisor hands its workload). Both copies count towards
// the object's size; the second is also one environment string, so it bounds the whole map.

import type { V1Container } from "@kubernetes/client-node";
import { LOG_LEVEL_ENV } from "./env";
import { invalidArgument, keyPath } from "./errors";
import type { SandboxResource } from "./types";
import type { ValidatedSandbox } from "./validate";

export const MAX_SANDBOX_BYTES = 1024 * 1024;
export const MAX_ENV_STRING_BYTES = 128 * 1024;

const SPEC_ENV = "sandbox.spec.environment";
const TEMPLATE_ENV = "sandbox.spec.template.environment";

const utf8 = new TextEncoder();

function bytes(text: string): number {
  return utf8.encode(text).length;
}

/** Throws SandboxRequestError (INVALID_ARGUMENT) when `resource`, rendered from `v`, is too large to create or to run. */
export function checkObjectSize(v: ValidatedSandbox, resource: SandboxResource): void {
  checkEnvStrings(v, resource);
  const total = bytes(JSON.stringify(resource));
  if (total <= MAX_SANDBOX_BYTES) return;
  const [field, contribution] = largestInput(v);
  throw invalidArgument(
    field,
    `the Sandbox resource would be ${kib(total)} KiB, over the driver's limit of ${kib(MAX_SANDBOX_BYTES)} KiB (Kubernetes stores objects of at most 1.5 MiB); this field accounts for about ${kib(contribution)} KiB of it`,
  );
}

function checkEnvStrings(v: ValidatedSandbox, resource: SandboxResource): void {
  const pod = resource.spec.podTemplate.spec;
  const containers: V1Container[] = [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])];
  for (const container of containers) {
    for (const { name, value = "" } of container.env ?? []) {
      const size = bytes(name) + bytes(value) + 2; // "=" and the terminating NUL
      if (size <= MAX_ENV_STRING_BYTES) continue;
      const field = envSource(v, name);
      if (field === undefined) continue;
      throw invalidArgument(
        field,
        `${describeEnv(name)} would be ${kib(size)} KiB, and Linux refuses to start a process with an environment string over ${kib(MAX_ENV_STRING_BYTES)} KiB`,
      );
    }
  }
}

/** The request field a rendered variable comes from; undefined for the driver's own. */
function envSource(v: ValidatedSandbox, name: string): string | undefined {
  const spec = v.sandbox.spec;
  if (name === "OPENSHELL_USER_ENVIRONMENT") {
    return mapBytes(spec?.environment ?? {}) >= mapBytes(spec?.template?.environment ?? {}) ? SPEC_ENV : TEMPLATE_ENV;
  }
  if (name === "OPENSHELL_MAIN_PROCESS_SPEC") return "sandbox.spec.command";
  if (name === LOG_LEVEL_ENV && spec?.logLevel) return "sandbox.spec.log_level";
  if (spec && Object.hasOwn(spec.environment, name)) return keyPath(SPEC_ENV, name);
  if (spec?.template && Object.hasOwn(spec.template.environment, name)) return keyPath(TEMPLATE_ENV, name);
  return undefined;
}

function describeEnv(name: string): string {
  if (name === "OPENSHELL_USER_ENVIRONMENT") return "the user variables, rendered as JSON in OPENSHELL_USER_ENVIRONMENT,";
  if (name === "OPENSHELL_MAIN_PROCESS_SPEC") return "the command, rendered as JSON in OPENSHELL_MAIN_PROCESS_SPEC,";
  return `variable ${name}`;
}

function mapBytes(map: Record<string, string>): number {
  let total = 0;
  for (const [key, value] of Object.entries(map)) total += bytes(key) + bytes(value);
  return total;
}

/** The user input that contributes most to the rendered resource, and roughly how much. */
function largestInput(v: ValidatedSandbox): [string, number] {
  const spec = v.sandbox.spec;
  const template = spec?.template;
  const candidates: [string, number][] = [
    [SPEC_ENV, 2 * mapBytes(spec?.environment ?? {})],
    [TEMPLATE_ENV, 2 * mapBytes(template?.environment ?? {})],
    ["sandbox.spec.command", (spec?.command ?? []).reduce((sum, arg) => sum + bytes(arg), 0)],
    ["sandbox.spec.template.labels", mapBytes(template?.labels ?? {})],
    ["sandbox.spec.template.platform_config", bytes(JSON.stringify(template?.platformConfig ?? {}))],
    ["sandbox.spec.template.driver_config", bytes(JSON.stringify(template?.driverConfig ?? {}))],
  ];
  return candidates.reduce((largest, candidate) => (candidate[1] > largest[1] ? candidate : largest));
}

function kib(n: number): string {
  return (n / 1024).toFixed(n % 1024 === 0 ? 0 : 1);
}
