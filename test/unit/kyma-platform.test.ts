import { describe, expect, test } from "bun:test";
import { KubeClient } from "../../src/kube";
import { KymaAdapter } from "../../src/platform/kyma/adapter";
import { amendForKyma } from "../../src/platform/kyma/amend";
import { kymaSideObjects, virtualServiceHost } from "../../src/platform/kyma/exposure";
import { renderSandbox, validateSandbox } from "../../src/sandbox";
import type { SandboxResource } from "../../src/sandbox/types";
import { makeSandbox, makeSettings } from "./fixtures";
import { expectGolden } from "./golden";
import { makePlatformSettings } from "./platform-fixtures";

const target = { name: "openshell", labels: {}, annotations: {} };

function rendered(name = "demo", workspace = "alice", settings = makeSettings()): SandboxResource {
  return renderSandbox(validateSandbox(makeSandbox({ name, workspace }), settings), settings);
}

/** The CR as the API server returns it from create: with its uid. */
function created(name = "demo", workspace = "alice", settings = makeSettings()): SandboxResource {
  const cr = rendered(name, workspace, settings);
  return { ...cr, metadata: { ...cr.metadata, uid: "6f1c1d4e-0000-4000-8000-000000000001" } };
}

function adapter(platform = makePlatformSettings()) {
  // Never called: these tests use only the pure parts.
  const client = new KubeClient({ server: "http://127.0.0.1:1", tls: { rejectUnauthorized: true }, auth: async () => ({}), describe: "unused" }, { timeoutMs: 1000 });
  const settings = makeSettings();
  return new KymaAdapter({
    client,
    identity: { name: "kyma", evidence: "--platform=kyma", version: "" },
    platform,
    render: settings,
    referencePod: rendered().spec.podTemplate.spec,
  });
}

describe("Kyma amend", () => {
  test("with --istio-inject=false the pod template is labelled sidecar.istio.io/inject=false", () => {
    const amended = adapter(makePlatformSettings({ istioInject: false })).amend(rendered(), target);
    expectGolden("kyma-amend-inject-false", amended.spec.podTemplate.metadata);
  });

  test("with --istio-inject=true the label says true, so a namespace without injection still injects", () => {
    const amended = adapter(makePlatformSettings({ istioInject: true })).amend(rendered(), target);
    expectGolden("kyma-amend-inject-true", amended.spec.podTemplate.metadata);
  });

  test("amend returns a new CR and leaves the one it was given untouched", () => {
    const cr = rendered();
    const before = structuredClone(cr);
    const amended = amendForKyma(cr, true);
    expect(cr).toEqual(before);
    expect(amended.spec.podTemplate.spec).toEqual(cr.spec.podTemplate.spec);
  });
});

describe("Kyma exposure side objects", () => {
  test("--expose=apirule creates a Service, an ingress-gateway-only NetworkPolicy and an APIRule v2 with a short host", () => {
    const objects = adapter(makePlatformSettings({ expose: "apirule" })).sideObjects(created());
    expectGolden("kyma-side-objects-apirule", objects);
  });

  test("--expose=virtualservice routes workspace--name on the shoot-info domain to the Service", () => {
    const objects = kymaSideObjects(created(), { kind: "virtualservice", port: 8080, gateway: "kyma-system/kyma-gateway", domain: "c-1a2b3c4.kyma.ondemand.com" });
    expectGolden("kyma-side-objects-virtualservice", objects);
  });

  test("a long sandbox name (managed mode) gets hashed object names and a host that is still one DNS label", () => {
    const longName = "a-very-long-sandbox-name-for-the-nightly-data-pipeline-run-0001";
    const objects = kymaSideObjects(created(longName, "analytics-team", makeSettings({ workspaceMode: "managed" })), {
      kind: "virtualservice",
      port: 3000,
      gateway: "kyma-system/kyma-gateway",
      domain: "local.kyma.dev",
    });
    expectGolden("kyma-side-objects-long-names", objects);
    for (const object of objects) expect(object.body.metadata.name.length).toBeLessThanOrEqual(63);
    const host = (objects[2]?.body.spec as { hosts: string[] }).hosts[0] ?? "";
    expect(host.split(".")[0]?.length).toBeLessThanOrEqual(63);
  });

  test("every side object is owned by the Sandbox CR and labelled with its sandbox id", () => {
    for (const kind of ["apirule", "virtualservice"] as const) {
      for (const object of kymaSideObjects(created(), { kind, port: 8080, gateway: "kyma-system/kyma-gateway", domain: "example.com" })) {
        expect(object.body.metadata.ownerReferences).toEqual([
          { apiVersion: "agents.x-k8s.io/v1beta1", kind: "Sandbox", name: "alice--demo", uid: "6f1c1d4e-0000-4000-8000-000000000001" },
        ]);
        expect(object.body.metadata.labels?.["openshell.ai/sandbox-id"]).toBe("sb-0123456789abcdef");
      }
    }
  });

  test("a host label in the IDNA-reserved form xx--… falls back to a hashed label without '--'", () => {
    const fallback = virtualServiceHost(created("demo", "ab"), "sb-ab--demo", "example.com");
    expect(fallback).toMatch(/^sb-ab-demo-[0-9a-f]{16}\.example\.com$/);
    expect(virtualServiceHost(created("demo", "alice"), "sb-alice--demo", "example.com")).toBe("alice--demo.example.com");
  });

  test("workspace 'sb-ab' cannot take the host workspace 'ab' falls back to for the same sandbox name", () => {
    const fallback = virtualServiceHost(created("demo", "ab"), "sb-ab--demo", "example.com");
    const firstForm = virtualServiceHost(created("demo", "sb-ab"), "sb-sb-ab--demo", "example.com");
    expect(firstForm).toBe("sb-ab--demo.example.com");
    expect(fallback).not.toBe(firstForm);
  });

  test("a host label longer than 63 characters falls back to a hashed label of at most 63 characters", () => {
    const cr = created("n".repeat(30), "w".repeat(32), makeSettings({ workspaceMode: "managed" }));
    const label = virtualServiceHost(cr, "sb-short", "example.com").split(".")[0] ?? "";
    expect(label.length).toBeLessThanOrEqual(63);
    expect(label).not.toContain("--");
  });

  test("outside shared mode two workspaces' long sandbox names of one name get two hosts (the CR name alone is the same)", () => {
    const name = "n".repeat(40);
    const settings = makeSettings({ workspaceMode: "managed" });
    const a = virtualServiceHost(created(name, "team-a".padEnd(30, "x"), settings), "sb-same", "example.com");
    const b = virtualServiceHost(created(name, "team-b".padEnd(30, "x"), settings), "sb-same", "example.com");
    expect(a).not.toBe(b);
  });

  test("--expose=none creates nothing beside the sandbox", () => {
    expect(adapter().sideObjects(created())).toEqual([]);
  });

  test("a VirtualService cannot be built before preflight has resolved the cluster domain", () => {
    expect(() => adapter(makePlatformSettings({ expose: "virtualservice" })).sideObjects(created())).toThrow("preflight");
  });
});

describe("Kyma namespaces and service accounts", () => {
  test("a namespace the driver creates is labelled with the Pod Security level the sandbox pod needs", () => {
    expect(adapter().namespaceLabels()).toEqual({ "pod-security.kubernetes.io/enforce": "privileged" });
  });

  test("sandbox ServiceAccounts need no annotations on Kyma", () => {
    expect(adapter().serviceAccountAnnotations(created())).toEqual({});
  });
});
