// The pod of the least a sandbox can be under the driver's flags: what the platform's checks judge
// where no request exists yet (at start, EnsureWorkspace, the labels of a namespace the driver
// creates). Every sandbox needs at least what this pod needs; a request can only add to it.
import { create } from "@bufbuild/protobuf";
import type { V1PodSpec } from "@kubernetes/client-node";
import { DriverSandboxSchema, DriverSandboxSpecSchema, DriverSandboxTemplateSchema } from "../gen/compute_driver_pb";
import { renderSandbox, validateSandbox } from "../sandbox";
import type { RenderSettings } from "../sandbox/settings";
import type { SandboxResource } from "../sandbox/types";
import { podAsCreated } from "./pod-as-created";

/** The Sandbox CR of that least sandbox, as rendered for a namespace with these annotations. */
export function referenceSandbox(settings: RenderSettings, namespaceAnnotations: Record<string, string> = {}): SandboxResource {
  const sandbox = create(DriverSandboxSchema, {
    id: "reference",
    name: "reference",
    workspace: "reference",
    spec: create(DriverSandboxSpecSchema, { template: create(DriverSandboxTemplateSchema) }),
  });
  return renderSandbox(validateSandbox(sandbox, settings), settings, namespaceAnnotations);
}

export function referencePod(settings: RenderSettings): V1PodSpec {
  return podAsCreated(referenceSandbox(settings));
}
