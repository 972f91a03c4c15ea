// What the OpenShift adapter adds to a sandbox (pure): the pinned SCC, the namespace's SELinux
// level, the OAuth proxy, and the Service, Route and cookie Secret created beside the CR.
import { describe, expect, test } from "bun:test";
import { KubeClient } from "../../src/kube";
import { OpenShiftAdapter } from "../../src/platform/openshift/adapter";
import { routeHost } from "../../src/platform/openshift/exposure";
import type { PlatformSettings } from "../../src/platform/settings";
import type { TargetNamespace } from "../../src/platform/types";
import { renderSandbox, validateSandbox } from "../../src/sandbox";
import type { RenderSettings } from "../../src/sandbox/settings";
import type { SandboxResource } from "../../src/sandbox/types";
import { makeSandbox, makeSettings } from "./fixtures";
import { expectGolden } from "./golden";
import { makePlatformSettings } from "./platform-fixtures";

const OPENSHIFT_RANGES = {
  "openshift.io/sa.scc.uid-range": "1000680000/10000",
  "openshift.io/sa.scc.supplemental-groups": "1000690000/10000",
};
const MCS = { "openshift.io/sa.scc.mcs": "s0:c26,c10" };

/** Never called: the pure parts of the adapter must not touch the API server. */
const unreachable = new KubeClient(
  { server: "http://127.0.0.1:9", tls: { rejectUnauthorized: true }, auth: async () => ({}), describe: "unreachable" },
  { timeoutMs: 100 },
);

function adapter(platform: Partial<PlatformSettings> = {}, render: Partial<RenderSettings> = {}): OpenShiftAdapter {
  return new OpenShiftAdapter({
    client: unreachable,
    identity: { name: "openshift", evidence: "--platform=openshift", version: "4.16.3" },
    platform: makePlatformSettings({ platform: "openshift", ...platform }),
    render: makeSettings({ workspaceMode: "managed", ...render }),
    // A fixed "random" source, so cookie secrets are golden-testable.
    randomBytes: (size) => new Uint8Array(size).fill(7),
  });
}

function rendered(settings: RenderSettings, annotations: Record<string, string>): { cr: SandboxResource; target: TargetNamespace } {
  const cr = renderSandbox(validateSandbox(makeSandbox(), settings), settings, annotations);
  return { cr, target: { name: cr.metadata.namespace ?? "", labels: {}, annotations } };
}

/** The CR as the API server returns it from create: with the uid its side objects are owned by. */
function created(cr: SandboxResource): SandboxResource {
  return { ...cr, metadata: { ...cr.metadata, uid: "0b9b1a52-5d1e-4c57-9a43-3f1f2d0c7e11" } };
}

describe("amend pins the SCC and the SELinux level, and adds the OAuth proxy (golden files)", () => {
  test("a plain sandbox gets only the required-scc annotation on its pod template", () => {
    const { cr, target } = rendered(makeSettings({ workspaceMode: "managed" }), OPENSHIFT_RANGES);
    const amended = adapter().amend(cr, target);
    expectGolden("openshift-amend-plain", amended.spec.podTemplate);
    expect({ ...amended, spec: { ...amended.spec, podTemplate: cr.spec.podTemplate } }).toEqual(cr);
  });

  test("a namespace with an MCS annotation gives the pod that SELinux level", () => {
    const { cr, target } = rendered(makeSettings({ workspaceMode: "managed" }), { ...OPENSHIFT_RANGES, ...MCS });
    expectGolden("openshift-amend-mcs", adapter().amend(cr, target).spec.podTemplate);
  });

  test("with the OAuth proxy the combined pod gets a proxy container under a UID of its own from the namespace's range, with its own SA token", () => {
    const { cr, target } = rendered(makeSettings({ workspaceMode: "managed" }), { ...OPENSHIFT_RANGES, ...MCS });
    const amended = adapter({ expose: "route", openshiftOauthProxy: true }).amend(cr, target);
    expectGolden("openshift-amend-oauth-proxy-combined", amended.spec.podTemplate);
  });

  test("the OAuth proxy never runs as the sandbox UID or any other container's UID (ptrace_may_access: a same-UID process reads its token through /proc)", () => {
    for (const topology of ["combined", "sidecar"] as const) {
      const settings = makeSettings({ workspaceMode: "managed", supervisorTopology: topology, sidecarProxyUid: 1000680001 });
      const { cr, target } = rendered(settings, { ...OPENSHIFT_RANGES, ...MCS });
      const pod = adapter({ expose: "route", openshiftOauthProxy: true }).amend(cr, target).spec.podTemplate.spec;
      const proxy = pod.containers.find((c) => c.name === "oauth-proxy")!;
      const sandboxUid = Number(pod.containers[0]!.env!.find((e) => e.name === "OPENSHELL_SANDBOX_UID")!.value);
      const others = [...(pod.initContainers ?? []), ...pod.containers].filter((c) => c !== proxy).map((c) => c.securityContext?.runAsUser);
      expect(proxy.securityContext?.runAsUser).not.toBe(sandboxUid);
      expect(others).not.toContain(proxy.securityContext?.runAsUser);
      expect(proxy.securityContext?.runAsUser).toBeGreaterThanOrEqual(1000680000);
      expect(proxy.securityContext?.runAsUser).toBeLessThan(1000680000 + 10000);
    }
  });

  test("with the OAuth proxy the sidecar-topology pod keeps its supervisors and gets the proxy last", () => {
    const settings = makeSettings({ workspaceMode: "managed", supervisorTopology: "sidecar" });
    const { cr, target } = rendered(settings, { ...OPENSHIFT_RANGES, ...MCS });
    const amended = adapter({ expose: "route", openshiftOauthProxy: true }).amend(cr, target);
    expectGolden("openshift-amend-oauth-proxy-sidecar", amended.spec.podTemplate);
    expect(amended.spec.podTemplate.spec.containers.map((c) => c.name)).toEqual(["agent", "openshell-supervisor-network", "oauth-proxy"]);
  });
});

describe("amend is pure and idempotent", () => {
  const proxied = adapter({ expose: "route", openshiftOauthProxy: true });

  test("the CR passed in is left exactly as it was", () => {
    const { cr, target } = rendered(makeSettings({ workspaceMode: "managed" }), { ...OPENSHIFT_RANGES, ...MCS });
    const before = structuredClone(cr);
    const amended = proxied.amend(cr, target);
    expect(cr).toEqual(before);
    expect(amended).not.toEqual(before);
  });

  test("amending an amended CR changes nothing: one proxy, one set of its volumes", () => {
    const { cr, target } = rendered(makeSettings({ workspaceMode: "managed" }), { ...OPENSHIFT_RANGES, ...MCS });
    const once = proxied.amend(cr, target);
    expect(proxied.amend(once, target)).toEqual(once);
  });

  test("an SELinux level the pod already has is kept", () => {
    const { cr, target } = rendered(makeSettings({ workspaceMode: "managed" }), { ...OPENSHIFT_RANGES, ...MCS });
    cr.spec.podTemplate.spec.securityContext = { seLinuxOptions: { level: "s0:c1,c2" } };
    const amended = adapter().amend(cr, target);
    expect(amended.spec.podTemplate.spec.securityContext?.seLinuxOptions).toEqual({ level: "s0:c1,c2" });
  });

  test("the OAuth proxy authenticates as the pod's ServiceAccount, or default when the pod names none", () => {
    const { cr, target } = rendered(makeSettings({ workspaceMode: "managed", serviceAccountName: "" }), OPENSHIFT_RANGES);
    const proxy = proxied.amend(cr, target).spec.podTemplate.spec.containers.find((c) => c.name === "oauth-proxy");
    expect(proxy?.args).toContain("--openshift-service-account=default");
  });
});

describe("side objects of --expose route (golden files)", () => {
  test("without --expose nothing is created beside the sandbox", () => {
    const { cr } = rendered(makeSettings({ workspaceMode: "managed" }), OPENSHIFT_RANGES);
    expect(adapter().sideObjects(created(cr))).toEqual([]);
    expect(adapter().serviceAccountAnnotations(created(cr))).toEqual({});
  });

  test("a Route without --route-domain leaves the host to the router and terminates TLS at the edge", () => {
    const { cr } = rendered(makeSettings({ workspaceMode: "managed" }), OPENSHIFT_RANGES);
    expectGolden("openshift-side-objects-route", adapter({ expose: "route" }).sideObjects(created(cr)));
  });

  test("with --route-domain the host is the exposure name under that domain", () => {
    const { cr } = rendered(makeSettings({ workspaceMode: "shared" }), OPENSHIFT_RANGES);
    const objects = adapter({ expose: "route", routeDomain: "apps.example.com" }, { workspaceMode: "shared" }).sideObjects(created(cr));
    expectGolden("openshift-side-objects-route-domain", objects);
  });

  test("outside shared mode the host carries the namespace, so two workspaces' sandboxes of one name do not claim one host", () => {
    const { cr } = rendered(makeSettings({ workspaceMode: "managed" }), OPENSHIFT_RANGES);
    const route = adapter({ expose: "route", routeDomain: "apps.example.com" }).sideObjects(created(cr))[1];
    expect((route?.body.spec as { host?: string }).host).toBe("sb-demo--openshell-gw-test-alice.apps.example.com");
  });

  test("outside shared mode name 'a-b' in namespace 'c' and name 'a' in namespace 'b-c' get two Route hosts", () => {
    const host = (name: string, namespace: string) =>
      routeHost({ apiVersion: "agents.x-k8s.io/v1beta1", kind: "Sandbox", metadata: { name, namespace }, spec: { podTemplate: { spec: { containers: [] } } } }, "apps.example.com", "operator");
    expect(host("a-b", "c")).not.toBe(host("a", "b-c"));
  });

  test("outside shared mode a long host cut and hashed never equals another workspace's uncut host", () => {
    const host = (name: string, namespace: string) =>
      routeHost({ apiVersion: "agents.x-k8s.io/v1beta1", kind: "Sandbox", metadata: { name, namespace }, spec: { podTemplate: { spec: { containers: [] } } } }, "apps.example.com", "managed");
    // The victim's `sb-{name}--{namespace}` is over 63 characters, so it is cut and hashed.
    const victim = host("notebook", "openshell-prod-data-science-platform-engineering-research")!;
    const label = victim.split(".")[0]!;
    expect(label.length).toBeLessThanOrEqual(63);
    expect(label).not.toContain("--");
    // The attacker picks the namespace that would spell the victim's label out uncut.
    const forged = label.replace(/^sb-notebook-+/, "");
    expect(host("notebook", forged)).not.toBe(victim);
  });

  test("with the OAuth proxy: a cookie Secret, a Service on the proxy port with a serving certificate, and a reencrypt Route", () => {
    const { cr } = rendered(makeSettings({ workspaceMode: "managed" }), OPENSHIFT_RANGES);
    const proxied = adapter({ expose: "route", openshiftOauthProxy: true });
    expectGolden("openshift-side-objects-oauth-proxy", proxied.sideObjects(created(cr)));
  });

  test("a CR not yet created (no uid) cannot own side objects", () => {
    const { cr } = rendered(makeSettings({ workspaceMode: "managed" }), OPENSHIFT_RANGES);
    expect(() => adapter({ expose: "route" }).sideObjects(cr)).toThrow("uid");
  });
});

describe("the ServiceAccount's OAuth redirect reference", () => {
  test("with the OAuth proxy the SA names the sandbox's Route, so the OAuth server redirects back to it", () => {
    const { cr } = rendered(makeSettings({ workspaceMode: "managed" }), OPENSHIFT_RANGES);
    expect(adapter({ expose: "route", openshiftOauthProxy: true }).serviceAccountAnnotations(created(cr))).toEqual({
      "serviceaccounts.openshift.io/oauth-redirectreference.sb-demo": '{"kind":"OAuthRedirectReference","apiVersion":"v1","reference":{"kind":"Route","name":"sb-demo"}}',
    });
  });

  test("a long sandbox name still gives a valid annotation key (63-character name part) naming the full Route", () => {
    const settings = makeSettings({ workspaceMode: "managed" });
    const sandbox = makeSandbox({ name: "a-very-long-sandbox-name-that-fills-most-of-a-label" });
    const cr = renderSandbox(validateSandbox(sandbox, settings), settings, OPENSHIFT_RANGES);
    const annotations = adapter({ expose: "route", openshiftOauthProxy: true }).serviceAccountAnnotations(created(cr));
    const [key, value] = Object.entries(annotations)[0] ?? [];
    expect(key?.split("/")[1]?.length).toBeLessThanOrEqual(63);
    expect(JSON.parse(value ?? "{}").reference.name).toBe("sb-a-very-long-sandbox-name-that-fills-most-of-a-label");
  });
});

describe("platform facts", () => {
  test("namespaces the driver creates need no labels: OpenShift assigns their ranges itself", () => {
    expect(adapter().namespaceLabels()).toEqual({});
  });
});
