// The per-sandbox `template.driver_config` for this driver (the gateway forwards only the inner
// `driver_config.<driver name>` object). Same schema as upstream `KubernetesSandboxDriverConfig`;
// unknown keys are refused at every level, like its serde `deny_unknown_fields`.

import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { V1Toleration } from "@kubernetes/client-node";
import { checkDns1123Label, checkDns1123Subdomain } from "./dns";
import { CLIENT_TLS_VOLUME, SA_TOKEN_VOLUME } from "./gateway-credentials";
import { invalidArgument } from "./errors";
import {
  expectArray,
  expectObject,
  field,
  optionalBool,
  optionalString,
  rejectUnknownKeys,
} from "./json-fields";
import { checkMountPath, checkSubPath, RESERVED_MOUNT_PATHS, trimTrailingSlash } from "./mount-path";
import { parseNodeSelector } from "./node-selector";
import { parseResourceMap } from "./resource-map";
import type { RenderSettings } from "./settings";
import { SIDECAR_STATE_VOLUME, SIDECAR_TLS_VOLUME } from "./sidecar";
import { SUPERVISOR_VOLUME } from "./supervisor";
import { parseTolerations } from "./tolerations";
import { UPSTREAM_PROXY_AUTH_VOLUME } from "./upstream-proxy";
import { WORKSPACE_VOLUME } from "./workspace-volume";

export const DRIVER_CONFIG_PATH = "sandbox.spec.template.driver_config";

/**
 * Volume names the driver renders itself, in either topology, plus upstream's SPIFFE volume. Upstream
 * leaves the two sidecar volumes unreserved; a user volume of that name would break the pod.
 */
export const RESERVED_VOLUME_NAMES = [
  CLIENT_TLS_VOLUME,
  UPSTREAM_PROXY_AUTH_VOLUME,
  SA_TOKEN_VOLUME,
  "spiffe-workload-api",
  SUPERVISOR_VOLUME,
  WORKSPACE_VOLUME,
  SIDECAR_STATE_VOLUME,
  SIDECAR_TLS_VOLUME,
] as const;

export interface DriverVolume {
  name: string;
  claimName: string;
  readOnly: boolean;
}

export interface DriverVolumeMount {
  name: string;
  mountPath: string;
  subPath?: string;
  readOnly: boolean;
}

export interface KubernetesDriverConfig {
  pod: {
    nodeSelector: Record<string, string>;
    tolerations: V1Toleration[];
    runtimeClassName?: string;
    priorityClassName?: string;
  };
  agent: {
    requests: Record<string, string>;
    limits: Record<string, string>;
    volumeMounts: DriverVolumeMount[];
  };
  volumes: DriverVolume[];
}

export function emptyDriverConfig(): KubernetesDriverConfig {
  return {
    pod: { nodeSelector: {}, tolerations: [] },
    agent: { requests: {}, limits: {}, volumeMounts: [] },
    volumes: [],
  };
}

export function parseDriverConfig(
  raw: JsonObject | undefined,
  settings: Pick<RenderSettings, "supervisorMountPath">,
  path: string = DRIVER_CONFIG_PATH,
): KubernetesDriverConfig {
  const config = emptyDriverConfig();
  if (raw === undefined) return config;
  rejectUnknownKeys(raw, ["pod", "containers", "volumes"], path);

  const pod = field(raw, "pod");
  if (pod !== undefined) config.pod = parsePod(pod, `${path}.pod`);

  const volumes = field(raw, "volumes");
  if (volumes !== undefined) config.volumes = parseVolumes(volumes, `${path}.volumes`);

  const containers = field(raw, "containers");
  if (containers !== undefined) {
    const containersPath = `${path}.containers`;
    const obj = expectObject(containers, containersPath);
    rejectUnknownKeys(obj, ["agent"], containersPath);
    const agent = field(obj, "agent");
    if (agent !== undefined) {
      config.agent = parseAgent(agent, `${containersPath}.agent`, config.volumes, settings);
    }
  }
  return config;
}

function parsePod(value: JsonValue, path: string): KubernetesDriverConfig["pod"] {
  const obj = expectObject(value, path);
  rejectUnknownKeys(obj, ["node_selector", "tolerations", "runtime_class_name", "priority_class_name"], path);
  const pod: KubernetesDriverConfig["pod"] = { nodeSelector: {}, tolerations: [] };

  const selector = field(obj, "node_selector");
  if (selector !== undefined) pod.nodeSelector = parseNodeSelector(selector, `${path}.node_selector`);

  const tolerations = field(obj, "tolerations");
  if (tolerations !== undefined) pod.tolerations = parseTolerations(tolerations, `${path}.tolerations`);

  for (const [key, prop] of [
    ["runtime_class_name", "runtimeClassName"],
    ["priority_class_name", "priorityClassName"],
  ] as const) {
    const name = optionalString(obj, key, path);
    if (name === undefined || name === "") continue;
    const problem = checkDns1123Subdomain(name);
    if (problem) throw invalidArgument(`${path}.${key}`, problem);
    pod[prop] = name;
  }
  return pod;
}

function parseVolumes(value: JsonValue, path: string): DriverVolume[] {
  const volumes: DriverVolume[] = [];
  expectArray(value, path).forEach((item, i) => {
    const at = `${path}[${i}]`;
    const obj = expectObject(item, at);
    rejectUnknownKeys(obj, ["name", "persistent_volume_claim"], at);
    const name = requireString(obj, "name", at);
    const badName = checkDns1123Label(name);
    if (badName) throw invalidArgument(`${at}.name`, badName);
    if ((RESERVED_VOLUME_NAMES as readonly string[]).includes(name)) {
      throw invalidArgument(`${at}.name`, `volume name '${name}' is reserved for OpenShell-managed volumes`);
    }
    if (volumes.some((v) => v.name === name)) {
      throw invalidArgument(`${at}.name`, `duplicate kubernetes driver_config volume '${name}'`);
    }
    const pvcPath = `${at}.persistent_volume_claim`;
    const pvcValue = field(obj, "persistent_volume_claim");
    if (pvcValue === undefined) throw invalidArgument(pvcPath, "required (the only supported volume source)");
    const pvc = expectObject(pvcValue, pvcPath);
    rejectUnknownKeys(pvc, ["claim_name", "read_only"], pvcPath);
    const claimName = requireString(pvc, "claim_name", pvcPath);
    const badClaim = checkDns1123Subdomain(claimName);
    if (badClaim) throw invalidArgument(`${pvcPath}.claim_name`, badClaim);
    const readOnly = optionalBool(pvc, "read_only", pvcPath) ?? true;
    volumes.push({ name, claimName, readOnly });
  });
  return volumes;
}

function parseAgent(
  value: JsonValue,
  path: string,
  volumes: readonly DriverVolume[],
  settings: Pick<RenderSettings, "supervisorMountPath">,
): KubernetesDriverConfig["agent"] {
  const obj = expectObject(value, path);
  rejectUnknownKeys(obj, ["resources", "volume_mounts"], path);
  const agent: KubernetesDriverConfig["agent"] = { requests: {}, limits: {}, volumeMounts: [] };

  const resources = field(obj, "resources");
  if (resources !== undefined) {
    const resPath = `${path}.resources`;
    const res = expectObject(resources, resPath);
    rejectUnknownKeys(res, ["requests", "limits"], resPath);
    const requests = field(res, "requests");
    if (requests !== undefined) agent.requests = parseResourceMap(requests, `${resPath}.requests`);
    const limits = field(res, "limits");
    if (limits !== undefined) agent.limits = parseResourceMap(limits, `${resPath}.limits`);
  }

  const mounts = field(obj, "volume_mounts");
  if (mounts !== undefined) {
    const reserved = [...RESERVED_MOUNT_PATHS, trimTrailingSlash(settings.supervisorMountPath)];
    agent.volumeMounts = parseMounts(mounts, `${path}.volume_mounts`, volumes, reserved);
  }
  return agent;
}

function parseMounts(
  value: JsonValue,
  path: string,
  volumes: readonly DriverVolume[],
  reserved: readonly string[],
): DriverVolumeMount[] {
  const mounts: DriverVolumeMount[] = [];
  expectArray(value, path).forEach((item, i) => {
    const at = `${path}[${i}]`;
    const obj = expectObject(item, at);
    rejectUnknownKeys(obj, ["name", "mount_path", "sub_path", "read_only"], at);

    const name = requireString(obj, "name", at);
    const badName = checkDns1123Label(name);
    if (badName) throw invalidArgument(`${at}.name`, badName);
    const volume = volumes.find((v) => v.name === name);
    if (!volume) {
      throw invalidArgument(`${at}.name`, `volume mount references unknown kubernetes driver_config volume '${name}'`);
    }
    const readOnly = optionalBool(obj, "read_only", at) ?? true;
    if (!readOnly && volume.readOnly) {
      throw invalidArgument(
        `${at}.read_only`,
        `volume mount '${name}' cannot set read_only=false because the PVC volume is read_only=true`,
      );
    }

    const mountPath = requireString(obj, "mount_path", at);
    const badPath = checkMountPath(mountPath, reserved);
    if (badPath) throw invalidArgument(`${at}.mount_path`, badPath);
    if (mounts.some((m) => m.mountPath === mountPath)) {
      throw invalidArgument(`${at}.mount_path`, `duplicate mount path '${mountPath}'`);
    }

    const mount: DriverVolumeMount = { name, mountPath, readOnly };
    const subPath = optionalString(obj, "sub_path", at);
    if (subPath !== undefined) {
      const badSub = checkSubPath(subPath);
      if (badSub) throw invalidArgument(`${at}.sub_path`, badSub);
      mount.subPath = subPath;
    }
    mounts.push(mount);
  });
  return mounts;
}

function requireString(obj: JsonObject, key: string, path: string): string {
  const value = optionalString(obj, key, path);
  if (value === undefined || value === "") throw invalidArgument(`${path}.${key}`, "required");
  return value;
}
