// The IDs and SELinux level OpenShift pre-allocates per namespace, read from its annotations the
// way SCC admission reads them (apiserver-library-go `CreateProviderFromConstraint`). A strategy
// that needs them makes the SCC unusable in a namespace without them, whatever the pod says.

import { ANNOTATION_SCC_SUPPLEMENTAL_GROUPS, ANNOTATION_SCC_UID_RANGE } from "../../sandbox/identity";
import type { SccMisfit } from "./scc-misfit";
import type { IdRange } from "./scc";

export const ANNOTATION_SCC_MCS = "openshift.io/sa.scc.mcs";

export interface IdBlock {
  min: number;
  max: number;
}

/** The IDs a strategy allows and where they come from, for messages. */
export interface AllowedIds {
  blocks: IdBlock[];
  source: string;
}

export type Resolved<T> = { value: T; misfit?: undefined } | { value?: undefined; misfit: SccMisfit };

export function annotationField(key: string): string {
  return `namespace.metadata.annotations[${key}]`;
}

/** `start/size` or `start-end`, as OpenShift's `uid.ParseBlock`. */
function parseBlock(text: string): IdBlock | undefined {
  const match = /^\s*(\d+)\s*([/-])\s*(\d+)\s*$/.exec(text);
  if (!match) return undefined;
  const start = Number(match[1]);
  const other = Number(match[3]);
  if (match[2] === "/") return other > 0 ? { min: start, max: start + other - 1 } : undefined;
  return other >= start ? { min: start, max: other } : undefined;
}

function missing(key: string, annotations: Record<string, string>, form: string): SccMisfit {
  const value = annotations[key];
  return {
    field: annotationField(key),
    message:
      value === undefined || value === ""
        ? `the namespace has no ${key} annotation, which the SCC strategy needs (form ${form})`
        : `${JSON.stringify(value)} is not of the form ${form}`,
  };
}

export function namespaceUidRange(annotations: Record<string, string>): Resolved<IdBlock> {
  const block = parseBlock(annotations[ANNOTATION_SCC_UID_RANGE] ?? "");
  return block ? { value: block } : { misfit: missing(ANNOTATION_SCC_UID_RANGE, annotations, "start/size") };
}

/** supplemental-groups (comma-separated blocks), falling back to the uid-range when absent. */
export function namespaceGroupBlocks(annotations: Record<string, string>): Resolved<{ blocks: IdBlock[]; key: string }> {
  const key = ANNOTATION_SCC_SUPPLEMENTAL_GROUPS in annotations ? ANNOTATION_SCC_SUPPLEMENTAL_GROUPS : ANNOTATION_SCC_UID_RANGE;
  const blocks = (annotations[key] ?? "").split(",").map(parseBlock);
  if (blocks.length === 0 || blocks.some((b) => b === undefined)) {
    return { misfit: missing(ANNOTATION_SCC_SUPPLEMENTAL_GROUPS, annotations, "start/size[,start/size…]") };
  }
  return { value: { blocks: blocks as IdBlock[], key } };
}

export function namespaceMcs(annotations: Record<string, string>): Resolved<string> {
  const level = annotations[ANNOTATION_SCC_MCS];
  return level ? { value: level } : { misfit: missing(ANNOTATION_SCC_MCS, annotations, "s0:cN,cM") };
}

export function inBlocks(id: number, blocks: IdBlock[]): boolean {
  return blocks.some((b) => id >= b.min && id <= b.max);
}

/** e.g. `runAsUser 0 is outside the namespace range 1000680000-1000689999 (MustRunAsRange)`. */
export function outsideMessage(what: string, id: number, allowed: AllowedIds, strategy: string): string {
  const [only, ...more] = allowed.blocks;
  if (only && more.length === 0 && only.min === only.max) return `${what} ${id} is not ${only.min}, ${allowed.source} (${strategy})`;
  const blocks = allowed.blocks.map((b) => (b.min === b.max ? `${b.min}` : `${b.min}-${b.max}`)).join(", ");
  return `${what} ${id} is outside ${allowed.source} ${blocks} (${strategy})`;
}

/** An SCC's own `ranges`; a bound left out counts as 0, as the Go int64 zero value does. */
export function sccBlocks(ranges: IdRange[]): IdBlock[] {
  return ranges.map((r) => ({ min: r.min ?? 0, max: r.max ?? 0 }));
}
