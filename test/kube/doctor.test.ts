// doctor against a scripted API server: what it reports when the Sandbox CRD is missing, when a
// permission is denied, and when the namespace's Pod Security level is too strict.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveConfig } from "../../src/config";
import type { CheckResult } from "../../src/doctor/checks";
import { runDoctor } from "../../src/doctor/run-checks";
import type { KubeAccess } from "../../src/kube";

interface ClusterScript {
  /** Sandbox API versions served; empty = the CRD is not installed. */
  sandboxVersions: string[];
  namespaceLabels: Record<string, string>;
  /** `verb resource namespace` triples an access review answers "not allowed". */
  denied: Set<string>;
  /** Sandboxes in openshell-system, as a list answers them. */
  sandboxes: unknown[];
  /** Whether a Sandbox created here gets status conditions at once, as the controller writes them. */
  controllerReconciles: boolean;
  /** The API server's release, as /version reports it. */
  gitVersion: string;
  /** Pod fields a PodTemplate dry run loses, as a server with the feature gate off drops them. */
  drops: { hostUsers: boolean; imageVolumes: boolean };
  /** Like 1.30, which does not know the `image` volume source: the volume is left without a type and the pod refused. */
  unknownImageVolumes: boolean;
}

/** Sandboxes the probe created, by name. */
const created = new Map<string, any>();

/** A PodTemplate as the scripted server would store it: the dropped features' fields gone. */
function storedTemplate(body: any): any {
  const spec = structuredClone(body.template.spec);
  if (script.drops.hostUsers) delete spec.hostUsers;
  if (script.drops.imageVolumes) {
    const images = new Set((spec.volumes ?? []).filter((v: any) => v.image).map((v: any) => v.name));
    spec.volumes = spec.volumes.filter((v: any) => !images.has(v.name));
    for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) c.volumeMounts = (c.volumeMounts ?? []).filter((m: any) => !images.has(m.name));
  }
  return { ...body, metadata: { ...body.metadata, name: "openshell-feature-probe-x" }, template: { ...body.template, spec } };
}

let script: ClusterScript;
const reviews: Record<string, string>[] = [];
let server: Server;
let url = "";

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function notFound(res: ServerResponse): void {
  send(res, 404, { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404, message: "not found" });
}

async function readBody(req: IncomingMessage): Promise<any> {
  let text = "";
  for await (const chunk of req) text += chunk;
  return JSON.parse(text);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? "/", "http://x").pathname;
  if (path === "/version") return send(res, 200, { major: "1", minor: /^v1\.(\d+)/.exec(script.gitVersion)![1], gitVersion: script.gitVersion });
  if (path === "/api/v1/namespaces/openshell-system/podtemplates" && req.method === "POST") {
    const body = await readBody(req);
    const imageAt = (body.template.spec.volumes ?? []).findIndex((v: any) => v.image);
    if (script.unknownImageVolumes && imageAt >= 0) {
      const message = `PodTemplate "openshell-feature-probe-x" is invalid: template.spec.volumes[${imageAt}]: Required value: must specify a volume type`;
      return send(res, 422, { kind: "Status", apiVersion: "v1", status: "Failure", reason: "Invalid", code: 422, message });
    }
    return send(res, 201, storedTemplate(body));
  }
  if (path === "/apis") return send(res, 200, { groups: script.sandboxVersions.length ? [{ name: "agents.x-k8s.io" }] : [] });
  if (path === "/apis/agents.x-k8s.io") {
    if (script.sandboxVersions.length === 0) return notFound(res);
    return send(res, 200, { versions: script.sandboxVersions.map((version) => ({ version })) });
  }
  const version = /^\/apis\/agents\.x-k8s\.io\/(v1\w+)$/.exec(path)?.[1];
  if (version && script.sandboxVersions.includes(version)) return send(res, 200, { resources: [{ name: "sandboxes" }] });
  if (/^\/apis\/agents\.x-k8s\.io\/v1\w+\/namespaces\/[^/]+\/sandboxes$/.test(path)) {
    if (req.method === "GET") return send(res, 200, { items: script.sandboxes });
    const body = await readBody(req);
    const sandbox = { ...body, metadata: { ...body.metadata, name: `openshell-doctor-${created.size}` } };
    if (script.controllerReconciles) sandbox.status = { conditions: [{ type: "Ready", status: "False" }, { type: "Suspended", status: "True" }] };
    created.set(sandbox.metadata.name, sandbox);
    return send(res, 201, sandbox);
  }
  const one = /^\/apis\/agents\.x-k8s\.io\/v1\w+\/namespaces\/[^/]+\/sandboxes\/([^/]+)$/.exec(path)?.[1];
  if (one !== undefined && created.has(one)) {
    if (req.method === "DELETE") created.delete(one);
    return send(res, 200, created.get(one) ?? {});
  }
  if (path === "/api/v1/namespaces/openshell-system") return send(res, 200, { metadata: { name: "openshell-system", labels: script.namespaceLabels } });
  if (path === "/api/v1/nodes") return send(res, 200, { items: [{ metadata: { name: "gpu-0" }, status: { allocatable: { "nvidia.com/gpu": "1" } } }] });
  if (path === "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews") {
    const attributes = (await readBody(req)).spec.resourceAttributes;
    reviews.push(attributes);
    const allowed = !script.denied.has(`${attributes.verb} ${attributes.resource} ${attributes.namespace ?? ""}`);
    return send(res, 201, { status: { allowed } });
  }
  return notFound(res);
}

beforeAll(async () => {
  server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => server.close());

beforeEach(() => {
  script = {
    sandboxVersions: ["v1beta1"],
    namespaceLabels: { "pod-security.kubernetes.io/enforce": "privileged" },
    denied: new Set(),
    sandboxes: [],
    controllerReconciles: true,
    gitVersion: "v1.36.4",
    drops: { hostUsers: false, imageVolumes: false },
    unknownImageVolumes: false,
  };
  created.clear();
  reviews.length = 0;
});

async function doctor(flags: Record<string, string> = {}): Promise<CheckResult[]> {
  const access: KubeAccess = { server: url, tls: { rejectUnauthorized: true }, auth: async () => ({}), describe: "scripted API server" };
  const socket = join(mkdtempSync(join(tmpdir(), "doctor-")), "run", "driver.sock");
  const config = resolveConfig({ platform: "kubernetes", socket, "kube-timeout": "5s", ...flags }, {}, false);
  return runDoctor(config, { loadAccess: async () => access, controllerProbeMs: 500 });
}

const named = (results: CheckResult[], name: string) => results.find((r) => r.name === name);

describe("doctor against the API server", () => {
  test("with everything in place nothing fails: one line per check, in order", async () => {
    const results = await doctor();
    expect(results.map((r) => [r.name, r.status])).toEqual([
      ["credentials", "PASS"],
      ["sandbox api", "PASS"],
      ["sandbox controller", "PASS"],
      ["namespace", "PASS"],
      ["pod security", "PASS"],
      ["rbac", "PASS"],
      ["admission fence", "PASS"],
      ["platform", "PASS"],
      ["platform preflight", "PASS"],
      ["pod features", "PASS"],
      ["gpu nodes", "PASS"],
      ["supervisor image", "WARN"],
      ["socket directory", "PASS"],
    ]);
    // No readable Deployment and no Sandbox: a suspended probe Sandbox the controller reconciles tells, and goes again.
    expect(named(results, "sandbox controller")?.detail).toStartWith("the controller reconciled a suspended probe Sandbox openshell-system/openshell-doctor-0 (agents.x-k8s.io/v1beta1)");
    expect(created.size).toBe(0);
  });

  test("a controller that never reconciles the probe Sandbox fails the controller check, and the probe is deleted anyway", async () => {
    script.controllerReconciles = false;
    expect(named(await doctor(), "sandbox controller")).toMatchObject({
      status: "FAIL",
      detail: expect.stringContaining("did not reconcile a suspended probe Sandbox"),
      fix: expect.stringContaining("releases/download/v1.0.1/sandbox.yaml"),
    });
    expect(created.size).toBe(0);
  });

  test("an identity that may not delete Sandboxes creates no probe it could not remove", async () => {
    script.denied.add("delete sandboxes openshell-system");
    script.controllerReconciles = false;
    await doctor();
    expect(created.size).toBe(0);
  });

  test("the newest Sandbox tells whether the controller reconciles: conditions pass; none after minutes leaves it to the probe Sandbox", async () => {
    const sandbox = (name: string, created: string, conditions?: unknown[]) => ({ metadata: { name, namespace: "openshell-system", creationTimestamp: created }, ...(conditions ? { status: { conditions } } : {}) });
    script.sandboxes = [sandbox("old", "2026-01-01T00:00:00Z", [{ type: "Ready", status: "True" }]), sandbox("new", "2026-01-02T00:00:00Z", [{ type: "Ready", status: "False" }])];
    expect(named(await doctor(), "sandbox controller")).toMatchObject({ status: "PASS", detail: expect.stringContaining("openshell-system/new (the newest) has conditions Ready=False") });
    // One without any after minutes is no proof on its own: the probe Sandbox decides.
    script.sandboxes = [sandbox("stuck", "2026-01-02T00:00:00Z")];
    expect(named(await doctor(), "sandbox controller")).toMatchObject({ status: "PASS", detail: expect.stringContaining("the controller reconciled a suspended probe Sandbox") });
    script.controllerReconciles = false;
    expect(named(await doctor(), "sandbox controller")).toMatchObject({ status: "FAIL", detail: expect.stringContaining("did not reconcile") });
  });

  test("without the Sandbox CRD the API check fails and its fix installs agent-sandbox; the other checks still run", async () => {
    script.sandboxVersions = [];
    const results = await doctor();
    expect(named(results, "sandbox api")).toMatchObject({
      status: "FAIL",
      detail: expect.stringContaining("the agent-sandbox CRD is not installed"),
      fix: "kubectl apply -f https://github.com/kubernetes-sigs/agent-sandbox/releases/download/v1.0.1/sandbox.yaml",
    });
    expect(named(results, "rbac")?.status).toBe("PASS");
    expect(named(results, "socket directory")?.status).toBe("PASS");
  });

  test("a forced Sandbox API version the cluster does not serve fails with --sandbox-api-version=auto as the fix", async () => {
    const results = await doctor({ "sandbox-api-version": "v1alpha1" });
    expect(named(results, "sandbox api")).toMatchObject({ status: "FAIL", fix: "--sandbox-api-version=auto (or v1beta1)" });
  });

  test("a denied permission fails with the rule as the manifest spells it and the manifest that grants it", async () => {
    script.denied.add("delete sandboxes openshell-system");
    const results = await doctor();
    expect(named(results, "rbac delete sandboxes.agents.x-k8s.io")).toEqual({
      name: "rbac delete sandboxes.agents.x-k8s.io",
      status: "FAIL",
      detail: "may not delete sandboxes.agents.x-k8s.io in namespace openshell-system, which Sandbox CRs (cache, create, stop, delete) needs",
      fix: 'grant {apiGroups: ["agents.x-k8s.io"], resources: [sandboxes], verbs: [delete]} as deploy/rbac.yaml (Role openshell-driver) does in namespace openshell-system',
    });
    expect(named(results, "rbac")).toBeUndefined();
  });

  test("every verb of the configuration is asked about, each in its own review", async () => {
    await doctor();
    expect(reviews).toContainEqual({ verb: "delete", group: "agents.x-k8s.io", resource: "sandboxes", namespace: "openshell-system" });
    expect(reviews).toContainEqual({ verb: "list", group: "", resource: "nodes" });
    expect(reviews).toContainEqual({ verb: "get", group: "", resource: "namespaces", name: "openshell-system" });
  });

  test("a denied optional permission (events) is a warning that does not fail the run", async () => {
    script.denied.add("watch events openshell-system");
    const results = await doctor();
    expect(named(results, "rbac watch events")?.status).toBe("WARN");
    expect(results.some((r) => r.status === "FAIL")).toBe(false);
  });

  test("a namespace enforcing baseline fails Pod Security with the exact label command", async () => {
    script.namespaceLabels = { "pod-security.kubernetes.io/enforce": "baseline" };
    const results = await doctor();
    expect(named(results, "pod security")).toMatchObject({
      status: "FAIL",
      detail: expect.stringContaining('sandbox pods need privileged, but namespace "openshell-system" has pod-security.kubernetes.io/enforce=baseline'),
      fix: "kubectl label ns openshell-system pod-security.kubernetes.io/enforce=privileged --overwrite",
    });
  });

  test("image-volume sideload passes on an API server whose dry run keeps image volumes", async () => {
    const results = await doctor({ "supervisor-sideload": "image-volume" });
    expect(named(results, "pod features")).toMatchObject({ status: "PASS", detail: expect.stringContaining("the image-volume supervisor sideload (an `image` volume): kept (--supervisor-sideload=image-volume)") });
  });

  test("--supervisor-sideload=image-volume on 1.33, whose dry run drops the volume, fails naming the version, ImageVolume, 1.35 and the fix", async () => {
    script.gitVersion = "v1.33.13";
    script.drops.imageVolumes = true;
    const results = await doctor({ "supervisor-sideload": "image-volume" });
    expect(named(results, "pod features")).toMatchObject({
      status: "FAIL",
      detail: expect.stringContaining("--supervisor-sideload=image-volume cannot be served: the API server (Kubernetes v1.33.13) drops spec.containers[name=agent].volumeMounts[name=openshell-supervisor-bin], spec.volumes[name=openshell-supervisor-bin] from the sandbox pod"),
      fix: "run Kubernetes 1.35 or newer, or enable the ImageVolume feature gate on the API server (and kubelets), or start the driver with --supervisor-sideload=init-container",
    });
  });

  test("--supervisor-sideload=image-volume on 1.30, which refuses the volume it cannot read (422), fails naming the volume and the version", async () => {
    script.gitVersion = "v1.30.14";
    script.unknownImageVolumes = true;
    expect(named(await doctor({ "supervisor-sideload": "image-volume" }), "pod features")).toMatchObject({
      status: "FAIL",
      detail: expect.stringContaining("--supervisor-sideload=image-volume cannot be served: the API server (Kubernetes v1.30.14) drops spec.volumes[name=openshell-supervisor-bin] from the sandbox pod"),
    });
  });

  test("--enable-user-namespaces on 1.30, whose dry run drops hostUsers, fails naming the version, UserNamespacesSupport and 1.33; without the flag it only says requests asking for it are refused", async () => {
    script.gitVersion = "v1.30.14";
    script.drops.hostUsers = true;
    expect(named(await doctor({ "enable-user-namespaces": "true" }), "pod features")).toMatchObject({
      status: "FAIL",
      detail: expect.stringContaining("--enable-user-namespaces cannot be served: the API server (Kubernetes v1.30.14) drops spec.hostUsers from the sandbox pod: user namespaces (spec.hostUsers: false) needs the UserNamespacesSupport feature gate, on by default from Kubernetes 1.33"),
      fix: expect.stringContaining("--enable-user-namespaces=false"),
    });
    expect(named(await doctor(), "pod features")).toMatchObject({ status: "PASS", detail: expect.stringContaining("dropped by Kubernetes v1.30.14 (UserNamespacesSupport off)") });
  });

  test("an unreachable API server is one failed check, and the socket is still checked", async () => {
    const gone: KubeAccess = { server: "http://127.0.0.1:1", tls: { rejectUnauthorized: true }, auth: async () => ({}), describe: "nowhere" };
    const socket = join(mkdtempSync(join(tmpdir(), "doctor-")), "driver.sock");
    const results = await runDoctor(resolveConfig({ socket, "kube-timeout": "2s" }, {}, false), { loadAccess: async () => gone });
    expect(results.map((r) => [r.name, r.status])).toEqual([
      ["credentials", "FAIL"],
      ["socket directory", "PASS"],
    ]);
    expect(results[0]?.detail).toContain("cluster checks skipped");
  });
});
