// The pod features the driver's flags and requests can turn on that an API server may silently
// drop, and the field-by-field comparison that finds a drop. Kubernetes strips the fields of a
// feature whose gate is off before it validates or stores a pod (pkg/api/pod dropDisabledPodFields:
// `hostUsers` without UserNamespacesSupport, image volumes and their mounts without ImageVolume),
// and a server too old to know a field discards it as unknown: the pod is admitted weaker than
// rendered, and nothing says so. Comparing what was sent with what a dry run would store finds it.
import type { V1PodSpec } from "@kubernetes/client-node";
import { PLATFORM_CONFIG_PATH } from "./platform-config";

export type PodFeatureId = "user-namespaces" | "image-volume";

export interface PodFeature {
  id: PodFeatureId;
  /** What the feature is, in a user's words, with the pod field it needs. */
  title: string;
  /** The Kubernetes feature gate that admits the field. */
  gate: string;
  /** The first Kubernetes minor that serves the field with the gate on by default. */
  onByDefaultSince: { major: number; minor: number };
  /** The driver flag that turns the feature on for every sandbox. */
  flag: string;
  /** How to run without it. */
  without: string;
}

export const POD_FEATURES: Record<PodFeatureId, PodFeature> = {
  "user-namespaces": {
    id: "user-namespaces",
    title: "user namespaces (spec.hostUsers: false)",
    gate: "UserNamespacesSupport",
    // Beta and on by default from 1.33 (KEP-127); before that the gate is off and hostUsers is dropped.
    onByDefaultSince: { major: 1, minor: 33 },
    flag: "--enable-user-namespaces",
    without: "--enable-user-namespaces=false",
  },
  "image-volume": {
    id: "image-volume",
    title: "the image-volume supervisor sideload (an `image` volume)",
    gate: "ImageVolume",
    // Alpha in 1.31/1.32, beta but off by default in 1.33/1.34, on by default from 1.35 (KEP-4639).
    onByDefaultSince: { major: 1, minor: 35 },
    flag: "--supervisor-sideload=image-volume",
    without: "--supervisor-sideload=init-container",
  },
};

export interface ServerVersion {
  major: number;
  minor: number;
  gitVersion: string;
}

/** Whether this version turns the feature's gate on by default (the fallback when no dry run answers). */
export function onByDefault(feature: PodFeature, version: ServerVersion): boolean {
  const since = feature.onByDefaultSince;
  return version.major > since.major || (version.major === since.major && version.minor >= since.minor);
}

/** The fix for a server that drops the feature: a newer Kubernetes, the gate, or running without it. */
export function featureFix(feature: PodFeature): string {
  return (
    `run Kubernetes ${feature.onByDefaultSince.major}.${feature.onByDefaultSince.minor} or newer, ` +
    `or enable the ${feature.gate} feature gate on the API server (and kubelets), or start the driver with ${feature.without}`
  );
}

/** The features a rendered pod uses. */
export function podFeaturesUsed(spec: V1PodSpec): PodFeatureId[] {
  const used: PodFeatureId[] = [];
  if (spec.hostUsers === false) used.push("user-namespaces");
  if ((spec.volumes ?? []).some((v) => v.image !== undefined)) used.push("image-volume");
  return used;
}

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A zero value Go's `omitempty` leaves out of a stored object (only a pointer field keeps it). */
function isZero(v: Json): boolean {
  return v === false || v === 0 || v === "" || v === null || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
}

/** Fields whose zero value is meaningful: pointer fields of a feature (hostUsers: false). */
const KEPT_WHEN_ZERO = new Set(["spec.hostUsers"]);

/** The field that identifies an element of a list Kubernetes merges by key; index otherwise. */
function elementKey(items: Json[]): "name" | "mountPath" | undefined {
  for (const key of ["name", "mountPath"] as const) {
    const values = items.map((item) => (isObject(item) ? item[key] : undefined));
    if (values.every((v) => typeof v === "string") && new Set(values).size === values.length) return key;
  }
  return undefined;
}

/**
 * Every field of `sent` that `stored` lacks, or a boolean it flipped, as paths such as
 * `spec.hostUsers` or `spec.volumes[name=supervisor]`. Values the server normalises (quantities,
 * defaults it adds) are not losses; zero values Go omits are not either, except a feature's own.
 */
export function lostFields(sent: Json, stored: Json, path = "spec"): string[] {
  if (isObject(sent)) {
    if (!isObject(stored)) return isZero(sent) ? [] : [path];
    return Object.entries(sent).flatMap(([key, value]) => {
      const child = `${path}.${key}`;
      if (!(key in stored) || stored[key] === undefined || stored[key] === null) {
        return isZero(value) && !KEPT_WHEN_ZERO.has(child) ? [] : [child];
      }
      return lostFields(value, stored[key], child);
    });
  }
  if (Array.isArray(sent)) {
    if (!Array.isArray(stored)) return sent.length === 0 ? [] : [path];
    const key = elementKey(sent);
    return sent.flatMap((item, i) => {
      if (key === undefined) return i < stored.length ? lostFields(item, stored[i], `${path}[${i}]`) : [`${path}[${i}]`];
      const id = (item as Record<string, string>)[key];
      const match = stored.find((s) => isObject(s) && s[key] === id);
      const child = `${path}[${key}=${id}]`;
      return match === undefined ? [child] : lostFields(item, match, child);
    });
  }
  if (typeof sent === "boolean" && typeof stored === "boolean" && sent !== stored) return [path];
  return [];
}

/** `spec.volumes[2].image` (an API server's index path) as `spec.volumes[name=x].image` for this pod. */
export function namedPath(spec: V1PodSpec, indexPath: string): string {
  let node: Json = { spec };
  let out = "";
  for (const part of indexPath.split(".")) {
    const m = /^([A-Za-z]+)((?:\[\d+\])*)$/.exec(part);
    if (!m) return indexPath;
    out += `${out ? "." : ""}${m[1]}`;
    node = isObject(node) ? node[m[1]!] : undefined;
    for (const index of m[2]!.match(/\d+/g) ?? []) {
      const items = Array.isArray(node) ? node : [];
      const key = elementKey(items);
      const item: Json = items[Number(index)];
      out += key && isObject(item) ? `[${key}=${String(item[key])}]` : `[${index}]`;
      node = item;
    }
  }
  return out;
}

/** The field paths an API server's "is invalid" message names (`spec.volumes[2]: Required value`). */
export function pathsInInvalidMessage(message: string): string[] {
  return [...new Set([...message.matchAll(/\bspec(?:\.[A-Za-z]+(?:\[\d+\])*)+/g)].map((m) => m[0]))];
}

/** The feature a lost (or refused) field belongs to, if it is one of POD_FEATURES'. */
export function featureOfPath(spec: V1PodSpec, path: string): PodFeatureId | undefined {
  if (path === "spec.hostUsers") return "user-namespaces";
  const imageVolumes = new Set((spec.volumes ?? []).filter((v) => v.image !== undefined).map((v) => v.name));
  const volume = /^spec\.volumes\[name=([^\]]+)\]/.exec(path);
  if (volume && imageVolumes.has(volume[1]!)) return "image-volume";
  const mount = /^spec\.(?:initContainers|containers)\[name=([^\]]+)\]\.volumeMounts\[(?:mountPath|name)=([^\]]+)\]/.exec(path);
  if (mount) {
    const container = [...(spec.initContainers ?? []), ...spec.containers].find((c) => c.name === mount[1]);
    const mounted = container?.volumeMounts?.find((m) => m.mountPath === mount[2] || m.name === mount[2]);
    if (mounted && imageVolumes.has(mounted.name)) return "image-volume";
  }
  return undefined;
}

/** What one API server does with one feature: keeps it, drops it (with the evidence), or unknown. */
export type FeatureSupport =
  | { kept: true; evidence: string }
  | { kept: false; fields: string[]; evidence: string };

/** "Kubernetes v1.30.14 drops spec.hostUsers: user namespaces (…) need the … gate, on by default from 1.33". */
export function droppedMessage(feature: PodFeature, version: ServerVersion, fields: string[]): string {
  const since = `${feature.onByDefaultSince.major}.${feature.onByDefaultSince.minor}`;
  return (
    `the API server (Kubernetes ${version.gitVersion}) drops ${fields.join(", ")} from the sandbox pod: ` +
    `${feature.title} needs the ${feature.gate} feature gate, on by default from Kubernetes ${since}`
  );
}

/** The request field that turned a feature on for one sandbox (beyond the driver's flags). */
export function requestFieldOf(feature: PodFeatureId): string {
  return feature === "user-namespaces" ? `${PLATFORM_CONFIG_PATH}.host_users` : "--supervisor-sideload";
}
