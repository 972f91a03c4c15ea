// Seccomp: SCCs list profiles in the old annotation spelling (`runtime/default`, `unconfined`,
// `localhost/<file>`, `*`); pods name them by the `seccompProfile` field. A pod or container that
// names none gets the first listed profile from admission, so only a named profile can misfit.

import type { V1PodSpec, V1SeccompProfile } from "@kubernetes/client-node";
import type { ContainerAt, SccMisfit, SccRuleInput } from "./scc-misfit";

/** `docker/default` is the legacy name of `runtime/default`, and admission treats them alike. */
function canonicalProfile(name: string): string {
  return name === "docker/default" ? "runtime/default" : name;
}

function annotationSpelling(profile: V1SeccompProfile): string {
  switch (profile.type) {
    case "RuntimeDefault":
      return "runtime/default";
    case "Unconfined":
      return "unconfined";
    case "Localhost":
      return `localhost/${profile.localhostProfile ?? ""}`;
    default:
      return profile.type;
  }
}

export function seccompMisfits(pod: V1PodSpec, containers: ContainerAt[], input: SccRuleInput): SccMisfit[] {
  const allowed = (input.scc.seccompProfiles ?? []).map(canonicalProfile);
  if (allowed.includes("*")) return [];
  const subjects = [
    { path: "spec", profile: pod.securityContext?.seccompProfile },
    ...containers.map(({ path, container }) => ({ path, profile: container.securityContext?.seccompProfile })),
  ];
  const misfits: SccMisfit[] = [];
  for (const { path, profile } of subjects) {
    if (!profile) continue;
    const name = annotationSpelling(profile);
    if (allowed.includes(name)) continue;
    misfits.push({
      field: `${path}.securityContext.seccompProfile`,
      message:
        allowed.length === 0
          ? `seccomp profile ${name} is not allowed: ${input.label} allows no seccomp profile`
          : `seccomp profile ${name} is not allowed: ${input.label} allows only [${allowed.join(", ")}]`,
    });
  }
  return misfits;
}
