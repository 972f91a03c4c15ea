// Shared builders for unit tests: a realistic settings object and sandbox requests.

import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { DriverSandboxSchema, DriverSandboxSpecSchema, DriverSandboxTemplateSchema, type DriverSandbox } from "../../src/gen/compute_driver_pb";
import type { RenderSettings } from "../../src/sandbox/settings";
import { PodFeatureGuard } from "../../src/driver/pod-feature-guard";

/** The request policy's safe defaults: no flag widens it. */
export const NO_WIDENING: RenderSettings["requestPolicy"] = {
  allowedAnnotationPrefixes: [],
  allowedLabelPrefixes: [],
  allowedRuntimeClasses: [],
  allowedPriorityClasses: [],
  allowedTolerationKeys: [],
  allowedNodeSelectorKeys: [],
};

/**
 * A policy an operator widened to the runtime classes, priority classes and taints the render and
 * reference tests name, so they can pin upstream's rendering of every scheduling field.
 */
export const WIDENED_FOR_UPSTREAM_FIELDS: RenderSettings["requestPolicy"] = {
  ...NO_WIDENING,
  allowedRuntimeClasses: ["kata", "gvisor", "p", "d"],
  allowedPriorityClasses: ["sandbox-high", "high"],
  allowedTolerationKeys: ["node.kubernetes.io/not-ready"],
};

export function makeSettings(overrides: Partial<RenderSettings> = {}): RenderSettings {
  return {
    namespace: "openshell",
    gatewayId: "gw-test",
    workspaceMode: "shared",
    apiVersion: "v1beta1",
    defaultImage: "ghcr.io/nvidia/openshell-community/sandboxes/base:latest",
    imagePullPolicy: "",
    imagePullSecrets: [],
    serviceAccountName: "openshell-sandbox",
    runtimeClassName: "",
    supervisorImage: "ghcr.io/nvidia/openshell/supervisor:0.9.0",
    supervisorImagePullPolicy: "",
    supervisorBinaryPath: "/openshell-sandbox",
    supervisorMountPath: "/opt/openshell/bin",
    supervisorSideload: "init-container",
    supervisorTopology: "combined",
    sidecarProxyUid: 1337,
    sidecarBinaryAwareNetworkPolicy: true,
    gatewayEndpoint: "https://openshell-gateway.openshell.svc:8080",
    sandboxTelemetry: true,
    sshSocketPath: "/run/openshell/ssh.sock",
    sandboxUid: undefined,
    sandboxGid: undefined,
    enableUserNamespaces: false,
    clientTlsSecretName: "",
    saTokenTtlSeconds: 3600,
    hostGatewayIp: "",
    appArmorProfile: undefined,
    seccompProfile: undefined,
    upstreamProxy: { url: "", noProxy: "", authSecretName: "", authSecretKey: "", allowInsecure: false, connectByHostname: false },
    workspaceStorageSize: "2Gi",
    workspaceStorageClass: "",
    managedSshIngress: { enabled: false, sandboxPolicy: false, gatewayNamespace: "", gatewayPodSelector: {} },
    requestPolicy: NO_WIDENING,
    gpuSupport: true,
    gpuCapacityCheck: "strict",
    ...overrides,
  };
}

/** An upstream proxy with credentials from a Secret: valid only in the sidecar topology. */
export const AUTHENTICATED_PROXY: RenderSettings["upstreamProxy"] = {
  url: "http://proxy.corp:3128",
  noProxy: "",
  authSecretName: "proxy-credentials",
  authSecretKey: "basic-auth",
  allowInsecure: true,
  connectByHostname: false,
};

interface SandboxInit {
  id?: string;
  name?: string;
  workspace?: string;
  spec?: MessageInitShape<typeof DriverSandboxSpecSchema>;
}

/** A minimal valid request; `spec` overrides are passed to create(), and a missing template becomes an empty one. */
export function makeSandbox(overrides: SandboxInit = {}): DriverSandbox {
  const { spec, ...rest } = overrides;
  const sandbox = create(DriverSandboxSchema, {
    id: "sb-0123456789abcdef",
    name: "demo",
    workspace: "alice",
    ...rest,
    spec: create(DriverSandboxSpecSchema, spec ?? {}),
  });
  if (sandbox.spec && !sandbox.spec.template) sandbox.spec.template = create(DriverSandboxTemplateSchema);
  return sandbox;
}

/** A guard for an API server that keeps every pod feature the driver renders (Kubernetes 1.36). */
export function keptPodFeatures(settings: RenderSettings = makeSettings()): PodFeatureGuard {
  const kept = { kept: true as const, evidence: "a server-side dry run of the sandbox pod" };
  return new PodFeatureGuard(
    { version: { major: 1, minor: 36, gitVersion: "v1.36.4" }, features: { "user-namespaces": kept, "image-volume": kept }, otherLosses: [] },
    settings,
  );
}
