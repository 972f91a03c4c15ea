// What the Kyma adapter reads from the API server at start and per sandbox: the driver namespace's
// Pod Security label, and kube-system/shoot-info for the cluster domain.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeClient } from "../../src/kube";
import type { Logger } from "../../src/log";
import { KymaAdapter } from "../../src/platform/kyma/adapter";
import { resolveClusterDomain, SHOOT_INFO_PATH } from "../../src/platform/kyma/cluster-domain";
import type { PlatformSettings } from "../../src/platform/settings";
import { PlatformProblem } from "../../src/platform/types";
import { renderSandbox, SandboxRequestError, validateSandbox } from "../../src/sandbox";
import { makeSandbox, makeSettings } from "../unit/fixtures";
import { makePlatformSettings } from "../unit/platform-fixtures";

/** Path → [status, body]; anything else is a 404 Status, as the API server answers. */
const routes = new Map<string, [number, unknown]>();
const requested: string[] = [];
let server: Server;
let client: KubeClient;

function status(code: number, reason: string, message: string) {
  return { kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    requested.push(path);
    const [code, body] = routes.get(path) ?? [404, status(404, "NotFound", `${path} not found`)];
    res.writeHead(code, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = new KubeClient({ server: url, tls: { rejectUnauthorized: true }, auth: async () => ({}), describe: "test" }, { timeoutMs: 5000 });
});

afterAll(() => server.close());
beforeEach(() => {
  routes.clear();
  requested.length = 0;
});

const settings = makeSettings();
const referencePod = renderSandbox(validateSandbox(makeSandbox(), settings), settings).spec.podTemplate.spec;

function adapter(platform: Partial<PlatformSettings> = {}, render = settings) {
  return new KymaAdapter({
    client,
    identity: { name: "kyma", evidence: "--platform=kyma", version: "" },
    platform: makePlatformSettings({ platform: "kyma", ...platform }),
    render,
    referencePod,
  });
}

function driverNamespace(labels: Record<string, string>) {
  routes.set("/api/v1/namespaces/openshell", [200, { kind: "Namespace", apiVersion: "v1", metadata: { name: "openshell", labels } }]);
}

function capturingLog(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const ignore = () => {};
  return { warnings, trace: ignore, debug: ignore, info: ignore, warn: (m) => warnings.push(m), error: ignore };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

describe("Kyma preflight", () => {
  test("a baseline driver namespace stops start-up with the exact kubectl line that admits sandbox pods", async () => {
    driverNamespace({ "pod-security.kubernetes.io/enforce": "baseline" });
    const err = await rejection(adapter().preflight());
    expect(err).toBeInstanceOf(PlatformProblem);
    const problem = err as PlatformProblem;
    expect(problem.fix).toBe("kubectl label ns openshell pod-security.kubernetes.io/enforce=privileged --overwrite");
    expect(problem.message).toContain('sandbox pods need Pod Security level privileged, but namespace "openshell" has pod-security.kubernetes.io/enforce=baseline');
    expect(problem.message).toContain("spec.containers[agent].securityContext.capabilities.add[SYS_ADMIN] is not in the baseline set");
  });

  test("a privileged driver namespace passes", async () => {
    driverNamespace({ "pod-security.kubernetes.io/enforce": "privileged" });
    await adapter().preflight();
    expect(requested).toEqual(["/api/v1/namespaces/openshell"]);
  });

  test("a driver namespace without the label passes, as the Kubernetes default is privileged", async () => {
    driverNamespace({});
    await adapter().preflight();
  });

  test("a missing driver namespace says how to create it", async () => {
    const err = await rejection(adapter().preflight());
    expect((err as PlatformProblem).fix).toBe("kubectl create namespace openshell");
  });

  test("managed mode reads no namespace at start: each workspace is checked when it is ensured", async () => {
    await adapter({}, makeSettings({ workspaceMode: "managed" })).preflight();
    expect(requested).toEqual([]);
  });

  test("--expose=route is refused on Kyma with the exposures that work there", async () => {
    driverNamespace({});
    const err = await rejection(adapter({ expose: "route" }).preflight());
    expect((err as PlatformProblem).fix).toBe("--expose=apirule, --expose=virtualservice or --expose=none");
  });

  test("--expose=apirule without --istio-inject is refused: APIRule v2 cannot route to a pod outside the mesh", async () => {
    driverNamespace({});
    const err = await rejection(adapter({ expose: "apirule" }).preflight());
    expect((err as PlatformProblem).fix).toBe("--istio-inject=true, or --expose=virtualservice, which needs no sidecar");
    await adapter({ expose: "apirule", istioInject: true }).preflight();
  });

  test("--expose=virtualservice resolves the domain from shoot-info once and routes sandboxes under it", async () => {
    driverNamespace({});
    routes.set(SHOOT_INFO_PATH, [200, { kind: "ConfigMap", data: { domain: "c-1a2b3c4.kyma.ondemand.com", shootName: "c-1a2b3c4" } }]);
    const kyma = adapter({ expose: "virtualservice" });
    await kyma.preflight();
    await kyma.preflight();
    expect(requested.filter((p) => p === SHOOT_INFO_PATH)).toHaveLength(1);
    expect(kyma.clusterDomain).toEqual({ domain: "c-1a2b3c4.kyma.ondemand.com", source: "kube-system/shoot-info data.domain" });
    const created = renderSandbox(validateSandbox(makeSandbox(), settings), settings);
    const objects = kyma.sideObjects({ ...created, metadata: { ...created.metadata, uid: "uid-1" } });
    expect((objects[2]?.body.spec as { hosts: string[] }).hosts).toEqual(["alice--demo.c-1a2b3c4.kyma.ondemand.com"]);
  });
});

describe("Kyma sandbox and namespace checks", () => {
  const baseline = { name: "team-a", labels: { "pod-security.kubernetes.io/enforce": "baseline" }, annotations: {} };

  test("a sandbox refused by its namespace's Pod Security level is a FailedPrecondition naming the level, the reason and the fix", async () => {
    const cr = renderSandbox(validateSandbox(makeSandbox(), settings), settings);
    const err = await rejection(adapter().checkSandbox(cr, baseline));
    expect(err).toBeInstanceOf(SandboxRequestError);
    const refusal = err as SandboxRequestError;
    expect(refusal.code).toBe("FailedPrecondition");
    expect(refusal.message).toStartWith("sandbox.workspace: this sandbox's pod needs Pod Security level privileged");
    expect(refusal.message).toContain("capabilities.add[SYS_ADMIN] is not in the baseline set");
    expect(refusal.message).toEndWith("fix: kubectl label ns team-a pod-security.kubernetes.io/enforce=privileged --overwrite");
  });

  test("a sandbox in a privileged namespace passes", async () => {
    const cr = renderSandbox(validateSandbox(makeSandbox(), settings), settings);
    await adapter().checkSandbox(cr, { ...baseline, labels: { "pod-security.kubernetes.io/enforce": "privileged" } });
  });

  test("EnsureWorkspace on a baseline namespace is refused with the same fix", async () => {
    const err = await rejection(adapter().checkNamespace(baseline));
    expect((err as SandboxRequestError).message).toEndWith("fix: kubectl label ns team-a pod-security.kubernetes.io/enforce=privileged --overwrite");
  });
});

describe("cluster domain resolution", () => {
  test("--cluster-domain wins and reads nothing", async () => {
    expect(await resolveClusterDomain(client, "sandboxes.example.com", capturingLog())).toEqual({ domain: "sandboxes.example.com", source: "--cluster-domain" });
    expect(requested).toEqual([]);
  });

  test("on Gardener the domain is shoot-info's data.domain", async () => {
    routes.set(SHOOT_INFO_PATH, [200, { kind: "ConfigMap", data: { domain: "c-1a2b3c4.kyma.ondemand.com" } }]);
    expect((await resolveClusterDomain(client, "", capturingLog())).domain).toBe("c-1a2b3c4.kyma.ondemand.com");
  });

  test("without shoot-info (not Gardener) the domain is local.kyma.dev, as Kyma's api-gateway uses", async () => {
    expect((await resolveClusterDomain(client, "", capturingLog())).domain).toBe("local.kyma.dev");
  });

  test("a shoot-info without data.domain stops start-up and asks for --cluster-domain", async () => {
    routes.set(SHOOT_INFO_PATH, [200, { kind: "ConfigMap", data: { shootName: "c-1a2b3c4" } }]);
    const err = await rejection(resolveClusterDomain(client, "", capturingLog()));
    expect(err).toBeInstanceOf(PlatformProblem);
    expect((err as PlatformProblem).message).toContain("has no data.domain");
    expect((err as PlatformProblem).fix).toStartWith("set --cluster-domain=");
  });

  test("a forbidden shoot-info falls back to local.kyma.dev and warns which RBAC rule is missing", async () => {
    routes.set(SHOOT_INFO_PATH, [403, status(403, "Forbidden", 'configmaps "shoot-info" is forbidden')]);
    const log = capturingLog();
    expect((await resolveClusterDomain(client, "", log)).domain).toBe("local.kyma.dev");
    expect(log.warnings).toHaveLength(1);
    expect(log.warnings[0]).toContain("get on configmaps, resourceNames [shoot-info], in kube-system");
  });
});
