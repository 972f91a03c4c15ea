// Builders for DriverSandbox requests as the gateway sends them.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { DriverSandboxSchema, type DriverSandbox } from "../../src/gen/compute_driver_pb";

export const TEST_IMAGE = "registry.example.test/openshell/sandbox:1.0";

let counter = 0;

/** A unique id and name per call so tests never collide in the shared cluster. */
export function uniqueName(prefix: string): { id: string; name: string } {
  counter++;
  const suffix = `${Date.now().toString(36).slice(-5)}${counter}`;
  return { id: `${prefix}-id-${suffix}`, name: `${prefix}-${suffix}`.slice(0, 40) };
}

export function sandboxRequest(init: {
  id: string;
  name: string;
  workspace?: string;
  image?: string;
  environment?: Record<string, string>;
  gpuCount?: number;
  sandboxToken?: string;
  spec?: MessageInitShape<typeof DriverSandboxSchema>["spec"];
}): DriverSandbox {
  return create(DriverSandboxSchema, {
    id: init.id,
    name: init.name,
    workspace: init.workspace ?? "ws",
    spec: init.spec ?? {
      logLevel: "info",
      environment: init.environment ?? {},
      sandboxToken: init.sandboxToken ?? "",
      template: { image: init.image ?? TEST_IMAGE },
      ...(init.gpuCount !== undefined ? { resourceRequirements: { gpu: { count: init.gpuCount } } } : {}),
    },
  });
}
