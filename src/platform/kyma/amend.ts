// What a sandbox pod needs on Kyma before it is created: an explicit Istio injection decision.
import type { SandboxResource } from "../../sandbox/types";

/**
 * Istio's injection webhook reads this pod LABEL (the annotation of the same name is deprecated)
 * and a pod label overrides the namespace's `istio-injection` label. The Rust Kyma driver stamped
 * "false" and removed the label for true, leaving true to the namespace default; we always write
 * it, so the flag means the same in every namespace: Kyma's own namespaces often enable
 * injection, and an injected sidecar in a sandbox whose egress the supervisor fences never gets
 * ready, while --istio-inject=true must inject even where the namespace does not (APIRule v2
 * needs the workload in the mesh).
 */
export const LABEL_ISTIO_INJECT = "sidecar.istio.io/inject";

/** Pure: a copy of the CR whose pod template carries the injection label. */
export function amendForKyma(resource: SandboxResource, istioInject: boolean): SandboxResource {
  const template = resource.spec.podTemplate;
  return {
    ...resource,
    spec: {
      ...resource.spec,
      podTemplate: {
        ...template,
        metadata: {
          ...template.metadata,
          labels: { ...template.metadata?.labels, [LABEL_ISTIO_INJECT]: istioInject ? "true" : "false" },
        },
      },
    },
  };
}
