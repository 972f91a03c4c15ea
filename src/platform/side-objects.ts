// What every object created beside a sandbox shares: a name that cannot collide with the
// controller's own objects, the labels that tie it to its sandbox and gateway, and an owner
// reference to the Sandbox CR, so the garbage collector deletes it with the sandbox and nothing
// is orphaned even when the driver is not running at delete time.
import { createHash } from "node:crypto";
import { LABEL_GATEWAY_ID, LABEL_MANAGED_BY, LABEL_SANDBOX_ID, MANAGED_BY_VALUE } from "../sandbox/labels";
import type { SandboxResource } from "../sandbox/types";
import type { OwnerReference } from "./types";

const PREFIX = "sb-";
/** Services (DNS-1035), Routes and APIRules all accept 63-character DNS labels. */
const MAX_NAME = 63;
const HASH_LENGTH = 8;

/**
 * `sb-<cr name>`: the agent-sandbox controller already owns a Service named after the CR, and a
 * Service name must start with a letter, which a CR name need not. Names too long for a label are
 * cut and end in a hash of the whole, so two sandboxes never share one.
 */
export function exposureName(crName: string): string {
  const name = `${PREFIX}${crName}`;
  if (name.length <= MAX_NAME) return name;
  const hash = createHash("sha256").update(crName).digest("hex").slice(0, HASH_LENGTH);
  // The cut part keeps no '--': a joined name that fits always has one, so a cut-and-hashed name
  // can never equal another sandbox's uncut one (an OpenShift Route host claimed first wins).
  return `${name.slice(0, MAX_NAME - HASH_LENGTH - 1).replace(/-{2,}/g, "-").replace(/-+$/, "")}-${hash}`;
}

/** Throws if the CR has no uid yet: only a created CR can own anything. */
export function ownerReferenceTo(created: SandboxResource): OwnerReference {
  const { name, uid } = created.metadata;
  if (!name || !uid) throw new Error("side objects need the created Sandbox's name and uid");
  return { apiVersion: created.apiVersion, kind: created.kind, name, uid };
}

/** The sandbox's id, manager and gateway labels, as its CR carries them. */
export function sideObjectLabels(created: SandboxResource): Record<string, string> {
  const labels = created.metadata.labels ?? {};
  const copied: Record<string, string> = {};
  for (const key of [LABEL_SANDBOX_ID, LABEL_MANAGED_BY, LABEL_GATEWAY_ID]) {
    const value = labels[key];
    if (value !== undefined) copied[key] = value;
  }
  copied[LABEL_MANAGED_BY] ??= MANAGED_BY_VALUE;
  return copied;
}

/** A Service selects the sandbox's pod by these: the controller copies podTemplate labels onto it. */
export function podSelector(created: SandboxResource): Record<string, string> {
  const labels = created.spec.podTemplate.metadata?.labels ?? {};
  const id = labels[LABEL_SANDBOX_ID];
  if (id === undefined) throw new Error("the Sandbox's pod template carries no sandbox-id label");
  return { [LABEL_SANDBOX_ID]: id, [LABEL_MANAGED_BY]: MANAGED_BY_VALUE };
}
