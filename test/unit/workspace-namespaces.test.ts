// The decisions workspace modes make, against an in-memory stand-in for the API server. The real
// API server (and each mode's RBAC) is exercised by test/e2e/workspace-modes.test.ts.
import { describe, expect, test } from "bun:test";
import { DriverError } from "../../src/driver/errors";
import { WorkspaceNamespaces } from "../../src/driver/workspace-namespaces";
import { KubeApiError, type KubeClient, type KubeRequest } from "../../src/kube";
import { SandboxRequestError } from "../../src/sandbox";
import type { RenderSettings } from "../../src/sandbox/settings";
import { makeSettings } from "./fixtures";

type Stored = { metadata: { name: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string>; deletionTimestamp?: string } } & Record<string, unknown>;

/** Namespaces and Secrets by path; records every request it answers. */
class FakeApi {
  readonly objects = new Map<string, Stored>();
  readonly calls: string[] = [];
  #uid = 0;

  put(path: string, obj: Stored): void {
    this.objects.set(path, { ...obj, metadata: { uid: `uid-${++this.#uid}`, ...obj.metadata } });
  }

  client(): KubeClient {
    return { request: async (req: KubeRequest) => this.#answer(req) } as unknown as KubeClient;
  }

  #answer(req: KubeRequest): unknown {
    this.calls.push(`${req.verb} ${req.path}`);
    const fail = (status: number, reason: string) => {
      throw new KubeApiError({ status, reason, verb: req.verb, resource: req.resource, detail: reason });
    };
    if (req.verb === "create") {
      const body = req.body as Stored;
      const path = `${req.path}/${body.metadata.name}`;
      if (this.objects.has(path)) fail(409, "AlreadyExists");
      this.put(path, body);
      return this.objects.get(path);
    }
    const existing = this.objects.get(req.path);
    if (req.verb === "get") return existing ?? fail(404, "NotFound");
    if (req.verb === "patch") {
      this.put(req.path, req.body as Stored);
      return this.objects.get(req.path);
    }
    if (req.verb === "delete") {
      if (!existing) fail(404, "NotFound");
      const uid = (req.body as { preconditions?: { uid?: string } }).preconditions?.uid;
      if (uid !== existing!.metadata.uid) fail(409, "Conflict");
      this.objects.delete(req.path);
      return {};
    }
    throw new Error(`unexpected ${req.verb} ${req.path}`);
  }
}

function setup(overrides: Partial<RenderSettings>) {
  const api = new FakeApi();
  api.put("/api/v1/namespaces/openshell", { metadata: { name: "openshell", annotations: { "openshift.io/sa.scc.uid-range": "1000680000/10000" } } });
  const settings = makeSettings({ namespace: "openshell", gatewayId: "gw", serviceAccountName: "sandbox-sa", ...overrides });
  return { api, namespaces: new WorkspaceNamespaces(api.client(), settings) };
}

async function rejection(call: Promise<unknown>): Promise<unknown> {
  return call.then(() => new Error("the call succeeded")).catch((e: unknown) => e);
}

describe("managed workspace mode", () => {
  test("EnsureWorkspace creates the owned namespace, the sandbox service account and copies of the configured Secrets", async () => {
    const { api, namespaces } = setup({ workspaceMode: "managed", imagePullSecrets: ["regcred"], clientTlsSecretName: "client-tls" });
    api.put("/api/v1/namespaces/openshell/secrets/regcred", { metadata: { name: "regcred" }, type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": "e30=" } });
    api.put("/api/v1/namespaces/openshell/secrets/client-tls", { metadata: { name: "client-tls" }, type: "kubernetes.io/tls", data: { "tls.crt": "Y2VydA==" } });

    await namespaces.ensure("team");

    const ns = api.objects.get("/api/v1/namespaces/openshell-gw-team")!;
    expect(ns.metadata.labels).toEqual({ "openshell.ai/managed-by": "openshell", "openshell.ai/gateway-id": "gw", "openshell.ai/sandbox-workspace": "team" });
    expect(ns.metadata.annotations).toEqual({ "openshift.io/sa.scc.uid-range": "1000680000/10000" });
    expect(api.objects.has("/api/v1/namespaces/openshell-gw-team/serviceaccounts/sandbox-sa")).toBe(true);
    expect(api.objects.get("/api/v1/namespaces/openshell-gw-team/secrets/regcred")!.data).toEqual({ ".dockerconfigjson": "e30=" });
    expect(api.objects.get("/api/v1/namespaces/openshell-gw-team/secrets/client-tls")!.type).toBe("kubernetes.io/tls");
    expect(api.objects.has("/apis/networking.k8s.io/v1/namespaces/openshell-gw-team/networkpolicies/openshell-sandbox-ssh")).toBe(false);

    await namespaces.ensure("team"); // idempotent: the namespace and account already being there is fine
  });

  test("the SSH NetworkPolicy is applied only when managed SSH ingress is enabled", async () => {
    const { api, namespaces } = setup({
      workspaceMode: "managed",
      managedSshIngress: { enabled: true, sandboxPolicy: false, gatewayNamespace: "openshell", gatewayPodSelector: { app: "gateway" } },
    });
    await namespaces.ensure("team");
    expect(api.objects.has("/apis/networking.k8s.io/v1/namespaces/openshell-gw-team/networkpolicies/openshell-sandbox-ssh")).toBe(true);
  });

  test("with --managed-sandbox-network-policy each workspace namespace isolates its sandbox pods as the chart does its own namespace's", async () => {
    const { api, namespaces } = setup({
      workspaceMode: "managed",
      managedSshIngress: { enabled: false, sandboxPolicy: true, gatewayNamespace: "openshell", gatewayPodSelector: { app: "gateway" } },
    });
    await namespaces.ensure("team");
    const policy = api.objects.get("/apis/networking.k8s.io/v1/namespaces/openshell-gw-team/networkpolicies/openshell-sandbox-isolation") as any;
    expect(policy.spec.podSelector).toEqual({ matchLabels: { "openshell.ai/managed-by": "openshell" } });
    expect(policy.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(policy.spec.ingress).toEqual([
      { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "openshell" } }, podSelector: { matchLabels: { app: "gateway" } } }] },
    ]);
    expect(policy.spec.egress[2].to[0].ipBlock.except).toContain("169.254.0.0/16");
  });

  test("a namespace of that name owned by someone else is refused with FAILED_PRECONDITION and left untouched", async () => {
    const { api, namespaces } = setup({ workspaceMode: "managed" });
    api.put("/api/v1/namespaces/openshell-gw-team", { metadata: { name: "openshell-gw-team", labels: { owner: "someone-else" } } });
    const err = (await rejection(namespaces.ensure("team"))) as SandboxRequestError;
    expect(err).toBeInstanceOf(SandboxRequestError);
    expect(err.code).toBe("FailedPrecondition");
    expect(err.message).toBe('workspace: namespace openshell-gw-team exists but is not owned by this gateway (gateway id "gw")');
    expect(api.objects.has("/api/v1/namespaces/openshell-gw-team/serviceaccounts/sandbox-sa")).toBe(false);
  });

  test("a configured Secret missing from the driver's namespace is FAILED_PRECONDITION naming the flag and the Secret", async () => {
    const { namespaces } = setup({ workspaceMode: "managed", imagePullSecrets: ["regcred"] });
    const err = (await rejection(namespaces.prepare("team", "sandbox.workspace"))) as SandboxRequestError;
    expect(err.code).toBe("FailedPrecondition");
    expect(err.message).toBe('--image-pull-secrets: configured image-pull Secret "regcred" does not exist in source namespace "openshell"');
  });

  test("DeleteWorkspace deletes its own namespace with a UID precondition, and succeeds when it is already gone", async () => {
    const { api, namespaces } = setup({ workspaceMode: "managed" });
    await namespaces.ensure("team");
    await namespaces.delete("team");
    expect(api.objects.has("/api/v1/namespaces/openshell-gw-team")).toBe(false);
    await namespaces.delete("team");
  });

  test("DeleteWorkspace leaves a namespace this gateway does not own, and still succeeds (upstream)", async () => {
    const { api, namespaces } = setup({ workspaceMode: "managed" });
    api.put("/api/v1/namespaces/openshell-gw-team", {
      metadata: { name: "openshell-gw-team", labels: { "openshell.ai/managed-by": "openshell", "openshell.ai/gateway-id": "another-gateway" } },
    });
    await namespaces.delete("team");
    expect(api.objects.has("/api/v1/namespaces/openshell-gw-team")).toBe(true);
    expect(api.calls.filter((c) => c.startsWith("delete"))).toEqual([]);
  });

  test("a workspace whose namespace name would exceed 63 characters is INVALID_ARGUMENT", async () => {
    const { namespaces } = setup({ workspaceMode: "managed" });
    const err = (await rejection(namespaces.ensure("w".repeat(60)))) as SandboxRequestError;
    expect(err.code).toBe("InvalidArgument");
    expect(err.message).toStartWith("workspace: managed namespace 'openshell-gw-www");
  });
});

describe("operator workspace mode", () => {
  test("a missing workspace namespace is FAILED_PRECONDITION naming it, and nothing is created", async () => {
    const { api, namespaces } = setup({ workspaceMode: "operator" });
    const err = (await rejection(namespaces.prepare("team", "sandbox.workspace"))) as SandboxRequestError;
    expect(err.code).toBe("FailedPrecondition");
    expect(err.message).toStartWith('sandbox.workspace: workspace namespace "team" does not exist');
    expect(api.calls.filter((c) => !c.startsWith("get"))).toEqual([]);
  });

  test("an existing namespace gets only the client TLS Secret copied; DeleteWorkspace never touches it", async () => {
    const { api, namespaces } = setup({ workspaceMode: "operator", imagePullSecrets: ["regcred"], clientTlsSecretName: "client-tls" });
    api.put("/api/v1/namespaces/team", { metadata: { name: "team", annotations: { "openshift.io/sa.scc.uid-range": "2000/100" } } });
    api.put("/api/v1/namespaces/openshell/secrets/client-tls", { metadata: { name: "client-tls" }, type: "kubernetes.io/tls", data: {} });

    expect((await namespaces.prepare("team", "sandbox.workspace")).annotations).toEqual({ "openshift.io/sa.scc.uid-range": "2000/100" });
    expect(api.objects.has("/api/v1/namespaces/team/secrets/client-tls")).toBe(true);
    expect(api.objects.has("/api/v1/namespaces/team/secrets/regcred")).toBe(false);

    const before = api.calls.length;
    await namespaces.delete("team");
    expect(api.calls.length).toBe(before);
    expect(api.objects.has("/api/v1/namespaces/team")).toBe(true);
  });
});

describe("shared workspace mode", () => {
  test("sandboxes get the driver namespace's annotations; with a fixed sandbox UID the namespace is not read, as upstream", async () => {
    const { api, namespaces } = setup({ workspaceMode: "shared" });
    expect((await namespaces.prepare("team", "sandbox.workspace")).annotations).toEqual({ "openshift.io/sa.scc.uid-range": "1000680000/10000" });
    const fixed = setup({ workspaceMode: "shared", sandboxUid: 4242 });
    expect(await fixed.namespaces.prepare("team", "sandbox.workspace")).toEqual({ name: "openshell", labels: {}, annotations: {} });
    expect(fixed.api.calls).toEqual([]);
    await namespaces.ensure("team");
    await namespaces.delete("team");
    expect(api.calls).toEqual(["get /api/v1/namespaces/openshell"]);
  });

  test("a missing driver namespace is FAILED_PRECONDITION naming --namespace", async () => {
    const { api, namespaces } = setup({ workspaceMode: "shared" });
    api.objects.delete("/api/v1/namespaces/openshell");
    const err = (await rejection(namespaces.prepare("team", "sandbox.workspace"))) as SandboxRequestError;
    expect(err.message).toBe('--namespace: namespace "openshell" does not exist');
  });
});

test("a namespace that keeps being replaced while deleting gives up with ABORTED", async () => {
  const { api, namespaces } = setup({ workspaceMode: "managed" });
  await namespaces.ensure("team");
  const client = api.client();
  const flaky = {
    request: async (req: KubeRequest) => {
      if (req.verb === "delete") throw new KubeApiError({ status: 409, reason: "Conflict", verb: "delete", resource: "namespaces", detail: "uid" });
      return client.request(req);
    },
  } as unknown as KubeClient;
  const err = await rejection(new WorkspaceNamespaces(flaky, makeSettings({ workspaceMode: "managed", gatewayId: "gw", namespace: "openshell" })).delete("team"));
  expect(err).toBeInstanceOf(DriverError);
  expect((err as DriverError).code).toBe("Aborted");
});
