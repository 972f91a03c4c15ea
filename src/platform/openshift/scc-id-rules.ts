// Who the pod runs as: runAsUser, fsGroup, supplementalGroups and the SELinux context, each by
// its SCC strategy. Admission first fills in what the pod leaves unset (a range strategy takes the
// start of its range, SELinux MustRunAs the namespace's level), so only values the pod sets itself
// can fail to fit. A strategy type left out is treated as RunAsAny, as the API defaults it.

import type { V1PodSpec, V1SELinuxOptions } from "@kubernetes/client-node";
import type { ContainerAt, SccMisfit, SccRuleInput } from "./scc-misfit";
import {
  type AllowedIds,
  type Resolved,
  inBlocks,
  namespaceGroupBlocks,
  namespaceMcs,
  namespaceUidRange,
  outsideMessage,
  sccBlocks,
} from "./scc-namespace";

function sccProblem(input: SccRuleInput, strategy: string, message: string): SccMisfit {
  return { field: `securityContextConstraints[${input.scc.metadata.name}].${strategy}`, message };
}

/** The UIDs runAsUser may take: the SCC's own bounds, else the namespace's range. */
function allowedUids(input: SccRuleInput): Resolved<AllowedIds> {
  const strategy = input.scc.runAsUser ?? {};
  if (strategy.type === "MustRunAs") {
    if (strategy.uid == null) return { misfit: sccProblem(input, "runAsUser", `${input.label} uses MustRunAs without a uid`) };
    return { value: { blocks: [{ min: strategy.uid, max: strategy.uid }], source: `the uid ${input.label} requires` } };
  }
  const { uidRangeMin: min, uidRangeMax: max } = strategy;
  if (min == null && max == null) {
    const range = namespaceUidRange(input.namespaceAnnotations);
    return range.misfit ? range : { value: { blocks: [range.value], source: "the namespace range" } };
  }
  if (min == null || max == null) {
    return { misfit: sccProblem(input, "runAsUser", `${input.label} sets only one of uidRangeMin and uidRangeMax`) };
  }
  return { value: { blocks: [{ min, max }], source: `${input.label} range` } };
}

export function runAsUserMisfits(pod: V1PodSpec, containers: ContainerAt[], input: SccRuleInput): SccMisfit[] {
  const type = input.scc.runAsUser?.type ?? "RunAsAny";
  if (type === "RunAsAny") return [];
  const podContext = pod.securityContext ?? {};
  // The pod-level values are checked once on their own and then as each container inherits them.
  const subjects = [
    { runAsUser: podContext.runAsUser, runAsNonRoot: podContext.runAsNonRoot, userAt: "spec", nonRootAt: "spec" },
    ...containers.map(({ path, container }) => {
      const own = container.securityContext ?? {};
      return {
        runAsUser: own.runAsUser ?? podContext.runAsUser,
        runAsNonRoot: own.runAsNonRoot ?? podContext.runAsNonRoot,
        userAt: own.runAsUser !== undefined ? path : "spec",
        nonRootAt: own.runAsNonRoot !== undefined ? path : "spec",
      };
    }),
  ];
  const misfits: SccMisfit[] = [];
  if (type === "MustRunAsNonRoot") {
    // Both unset: admission sets runAsNonRoot=true and the kubelet checks the image's USER at start.
    for (const s of subjects) {
      if (s.runAsNonRoot === false) {
        misfits.push({ field: `${s.nonRootAt}.securityContext.runAsNonRoot`, message: `${input.label} requires runAsNonRoot (MustRunAsNonRoot)` });
      }
      if (s.runAsUser === 0) {
        misfits.push({ field: `${s.userAt}.securityContext.runAsUser`, message: `runAsUser 0 is root, which ${input.label} refuses (MustRunAsNonRoot)` });
      }
    }
    return misfits;
  }
  const allowed = allowedUids(input);
  if (allowed.misfit) return [allowed.misfit];
  for (const s of subjects) {
    if (s.runAsUser === undefined || inBlocks(s.runAsUser, allowed.value.blocks)) continue;
    misfits.push({
      field: `${s.userAt}.securityContext.runAsUser`,
      message: outsideMessage("runAsUser", s.runAsUser, allowed.value, type),
    });
  }
  return misfits;
}

/**
 * fsGroup MustRunAs without ranges takes only the FIRST ID of the namespace's supplemental-groups
 * (OpenShift's `getPreallocatedFSGroup` makes a one-ID range of it); supplementalGroups take every
 * listed block.
 */
function allowedGroups(input: SccRuleInput, strategy: "fsGroup" | "supplementalGroups"): Resolved<AllowedIds> {
  const ranges = input.scc[strategy]?.ranges ?? [];
  if (ranges.length > 0) return { value: { blocks: sccBlocks(ranges), source: `${input.label} ranges` } };
  const groups = namespaceGroupBlocks(input.namespaceAnnotations);
  if (groups.misfit) return groups;
  const { blocks, key } = groups.value;
  if (strategy === "supplementalGroups") return { value: { blocks, source: `the namespace's ${key}` } };
  const first = blocks[0] as { min: number };
  return { value: { blocks: [{ min: first.min, max: first.min }], source: `the first ID of the namespace's ${key}, the one fsGroup it pre-allocates` } };
}

export function groupMisfits(pod: V1PodSpec, input: SccRuleInput): SccMisfit[] {
  const misfits: SccMisfit[] = [];
  const checks = [
    { strategy: "fsGroup" as const, ids: pod.securityContext?.fsGroup !== undefined ? [pod.securityContext.fsGroup] : [], field: () => "spec.securityContext.fsGroup" },
    { strategy: "supplementalGroups" as const, ids: pod.securityContext?.supplementalGroups ?? [], field: (id: number) => `spec.securityContext.supplementalGroups[${id}]` },
  ];
  for (const { strategy, ids, field } of checks) {
    if ((input.scc[strategy]?.type ?? "RunAsAny") !== "MustRunAs") continue;
    const allowed = allowedGroups(input, strategy);
    if (allowed.misfit) {
      misfits.push(allowed.misfit);
      continue;
    }
    for (const id of ids) {
      if (inBlocks(id, allowed.value.blocks)) continue;
      misfits.push({
        field: field(id),
        message: outsideMessage(strategy, id, allowed.value, "MustRunAs"),
      });
    }
  }
  return misfits;
}

/** `s0:c26,c10` and `s0:c10,c26` are the same level: categories are a set. */
function sameLevel(a: string, b: string): boolean {
  const canonical = (level: string) => {
    const colon = level.indexOf(":");
    if (colon < 0) return level.trim();
    const categories = level.slice(colon + 1).split(",").map((c) => c.trim()).filter((c) => c !== "");
    return `${level.slice(0, colon).trim()}:${categories.sort().join(",")}`;
  };
  return canonical(a) === canonical(b);
}

export function seLinuxMisfits(pod: V1PodSpec, containers: ContainerAt[], input: SccRuleInput): SccMisfit[] {
  if (input.scc.seLinuxContext?.type !== "MustRunAs") return [];
  const required = input.scc.seLinuxContext.seLinuxOptions ?? {};
  let level = required.level;
  let levelSource = input.label;
  if (!level) {
    const mcs = namespaceMcs(input.namespaceAnnotations);
    if (mcs.misfit) return [mcs.misfit];
    level = mcs.value;
    levelSource = "the namespace";
  }
  const subjects: { path: string; options: V1SELinuxOptions | undefined }[] = [
    { path: "spec", options: pod.securityContext?.seLinuxOptions },
    ...containers.map(({ path, container }) => ({ path, options: container.securityContext?.seLinuxOptions })),
  ];
  const misfits: SccMisfit[] = [];
  for (const { path, options } of subjects) {
    if (!options) continue;
    const at = `${path}.securityContext.seLinuxOptions`;
    if (options.level && !sameLevel(options.level, level)) {
      misfits.push({ field: `${at}.level`, message: `level ${JSON.stringify(options.level)} is not ${levelSource}'s ${JSON.stringify(level)} (MustRunAs)` });
    }
    for (const part of ["user", "role", "type"] as const) {
      const want = required[part];
      if (want && options[part] && options[part] !== want) {
        misfits.push({ field: `${at}.${part}`, message: `${input.label} requires SELinux ${part} ${JSON.stringify(want)} (MustRunAs)` });
      }
    }
  }
  return misfits;
}
