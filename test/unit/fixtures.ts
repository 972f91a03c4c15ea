// Shared builders for unit tests: a realistic settings object and sandbox requests.

import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { DriverSandboxSchema, type DriverSandbox } from "../../src/gen/compute_driver_pb";
import type { RenderSettings } from "../../src/sandbox/settings";

export function makeSettings(overrides: Partial<RenderSettings> = {}): RenderSettings {
  return {
    namespace: "openshell",
    gatewayId: "gw-test",
    apiVersion: "v1beta1",
    defaultImage: "ghcr.io/nvidia/openshell-community/sandboxes/base:latest",
    imagePullPolicy: "",
    imagePullSecrets: [],
    serviceAccountName: "openshell-sandbox",
    runtimeClassName: "",
    supervisorImage: "ghcr.io/nvidia/openshell/supervisor:0.9.0",
    supervisorBinaryPath: "/openshell-sandbox",
    supervisorMountPath: "/opt/openshell/bin",
    supervisorSideload: "init-container",
    gatewayEndpoint: "https://openshell-gateway.openshell.svc:8080",
    gpuSupport: true,
    ...overrides,
  };
}

type SandboxInit = MessageInitShape<typeof DriverSandboxSchema>;

/** A minimal valid request; `spec` fields are merged one level deep, `template` replaces. */
export function makeSandbox(overrides: Partial<SandboxInit> = {}): DriverSandbox {
  const { spec, ...rest } = overrides;
  return create(DriverSandboxSchema, {
    id: "sb-0123456789abcdef",
    name: "demo",
    workspace: "alice",
    ...rest,
    spec: { template: {}, ...spec },
  });
}
