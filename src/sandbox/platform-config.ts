// The legacy `template.platform_config` Struct the gateway fills from public template fields
// (runtime class, annotations, user namespaces, raw resources). Known keys only.

import type { JsonObject } from "@bufbuild/protobuf";
import type { V1Toleration } from "@kubernetes/client-node";
import { checkDns1123Subdomain, checkQualifiedName } from "./dns";
import { invalidArgument, keyPath } from "./errors";
import { expectObject, field, optionalBool, optionalString, rejectUnknownKeys, stringMap } from "./json-fields";
import { parseNodeSelector } from "./node-selector";
import { parseRawResourceMap } from "./resource-map";
import { parseTolerations } from "./tolerations";

export const PLATFORM_CONFIG_PATH = "sandbox.spec.template.platform_config";

/** The API server's limit on the summed size of all annotation keys and values. */
const ANNOTATIONS_MAX_BYTES = 256 * 1024;

export interface PlatformConfig {
  runtimeClassName?: string;
  annotations: Record<string, string>;
  nodeSelector: Record<string, string>;
  tolerations: V1Toleration[];
  /** false requests a user namespace (`hostUsers: false`); undefined leaves the cluster default. */
  hostUsers?: boolean;
  resourcesRaw: { requests: Record<string, string>; limits: Record<string, string> };
}

export function emptyPlatformConfig(): PlatformConfig {
  return { annotations: {}, nodeSelector: {}, tolerations: [], resourcesRaw: { requests: {}, limits: {} } };
}

export function parsePlatformConfig(raw: JsonObject | undefined, path: string = PLATFORM_CONFIG_PATH): PlatformConfig {
  const config = emptyPlatformConfig();
  if (raw === undefined) return config;
  rejectUnknownKeys(
    raw,
    ["runtime_class_name", "annotations", "node_selector", "tolerations", "host_users", "resources_raw"],
    path,
  );

  const runtimeClass = optionalString(raw, "runtime_class_name", path);
  if (runtimeClass) {
    const problem = checkDns1123Subdomain(runtimeClass);
    if (problem) throw invalidArgument(`${path}.runtime_class_name`, problem);
    config.runtimeClassName = runtimeClass;
  }

  const annotations = field(raw, "annotations");
  if (annotations !== undefined) config.annotations = parseAnnotations(annotations, `${path}.annotations`);

  const selector = field(raw, "node_selector");
  if (selector !== undefined) config.nodeSelector = parseNodeSelector(selector, `${path}.node_selector`);

  const tolerations = field(raw, "tolerations");
  if (tolerations !== undefined) config.tolerations = parseTolerations(tolerations, `${path}.tolerations`);

  const hostUsers = optionalBool(raw, "host_users", path);
  if (hostUsers !== undefined) config.hostUsers = hostUsers;

  const resources = field(raw, "resources_raw");
  if (resources !== undefined) {
    const resPath = `${path}.resources_raw`;
    const obj = expectObject(resources, resPath);
    // The gateway passes every other section of the public Struct through; Kubernetes would refuse
    // `claims` without pod-level resourceClaims, which sandboxes do not get.
    if (field(obj, "claims") !== undefined) {
      throw invalidArgument(`${resPath}.claims`, "resource claims are not supported: the sandbox pod declares no resourceClaims");
    }
    const { claims: _absentClaims, ...sections } = obj;
    rejectUnknownKeys(sections, ["requests", "limits"], resPath);
    const requests = field(obj, "requests");
    if (requests !== undefined) config.resourcesRaw.requests = parseRawResourceMap(requests, `${resPath}.requests`);
    const limits = field(obj, "limits");
    if (limits !== undefined) config.resourcesRaw.limits = parseRawResourceMap(limits, `${resPath}.limits`);
  }
  return config;
}

function parseAnnotations(value: Parameters<typeof stringMap>[0], path: string): Record<string, string> {
  const map = stringMap(value, path);
  const utf8 = new TextEncoder();
  let bytes = 0;
  for (const [key, v] of Object.entries(map)) {
    const problem = checkQualifiedName(key);
    if (problem) throw invalidArgument(keyPath(path, key), `annotation key ${problem}`);
    bytes += utf8.encode(key).length + utf8.encode(v).length;
  }
  if (bytes > ANNOTATIONS_MAX_BYTES) {
    throw invalidArgument(path, `annotations total ${bytes} bytes, exceeding the Kubernetes limit of ${ANNOTATIONS_MAX_BYTES}`);
  }
  return map;
}
