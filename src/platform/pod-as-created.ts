// The pod the agent-sandbox controller creates from a Sandbox CR: `podTemplate.spec` copied
// verbatim, plus one persistentVolumeClaim volume per volumeClaimTemplate, merged in by name
// (volume name = template name, claim = `<template>-<sandbox>`). Admission sees this pod, not
// the template, so checks that predict admission start here.

import type { V1PodSpec, V1Volume } from "@kubernetes/client-node";
import type { SandboxResource } from "../sandbox/types";

function templateName(template: unknown): string | undefined {
  if (typeof template !== "object" || template === null) return undefined;
  const metadata = (template as { metadata?: { name?: unknown } }).metadata;
  return typeof metadata?.name === "string" ? metadata.name : undefined;
}

export function podAsCreated(resource: SandboxResource): V1PodSpec {
  const template = resource.spec.podTemplate.spec;
  const volumes: V1Volume[] = [...(template.volumes ?? [])];
  for (const claimTemplate of resource.spec.volumeClaimTemplates ?? []) {
    const name = templateName(claimTemplate);
    if (name === undefined) continue;
    const volume: V1Volume = {
      name,
      persistentVolumeClaim: { claimName: `${name}-${resource.metadata.name ?? ""}` },
    };
    const same = volumes.findIndex((v) => v.name === name);
    if (same >= 0) volumes[same] = volume;
    else volumes.push(volume);
  }
  return { ...template, ...(volumes.length > 0 ? { volumes } : {}) };
}
