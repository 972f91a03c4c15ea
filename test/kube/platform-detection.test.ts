// What `--platform auto` reads from the API server, what it concludes, and how the plain
// Kubernetes adapter refuses flags that need another platform.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeApiError, KubeClient } from "../../src/kube";
import { detectPlatform } from "../../src/platform/detect";
import { KubernetesAdapter } from "../../src/platform/kubernetes";
import { PlatformProblem } from "../../src/platform/types";
import type { SandboxResource } from "../../src/sandbox/types";
import { makePlatformSettings } from "../unit/platform-fixtures";

interface Answer {
  status: number;
  body: unknown;
}

const APIS = "/apis";
const CONFIG_V1 = "/apis/config.openshift.io/v1";
const CLUSTER_VERSION = "/apis/config.openshift.io/v1/clusterversions/version";
const SHOOT_INFO = "/api/v1/namespaces/kube-system/configmaps/shoot-info";

/** Path → answer; any other path is a 404, as for a resource the cluster does not serve. */
let answers: Map<string, Answer>;
let readyz = 200;
const requested: string[] = [];
let server: Server;
let client: KubeClient;

function status(code: number, reason: string, message: string): Answer {
  return { status: code, body: { kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message } };
}

const forbidden = (what: string) => status(403, "Forbidden", `${what} is forbidden: User "system:serviceaccount:openshell-system:openshell-driver" cannot get it`);

function ok(body: unknown): Answer {
  return { status: 200, body };
}

/** The cluster's /apis: the built-in groups every cluster serves plus `extra`. */
function groups(...extra: string[]): Answer {
  const names = ["apps", "rbac.authorization.k8s.io", "agents.x-k8s.io", ...extra];
  return ok({
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: names.map((name) => ({ name, versions: [{ groupVersion: `${name}/v1`, version: "v1" }], preferredVersion: { groupVersion: `${name}/v1`, version: "v1" } })),
  });
}

function resources(...names: string[]): Answer {
  return ok({ kind: "APIResourceList", groupVersion: "config.openshift.io/v1", resources: names.map((name) => ({ name, namespaced: false, kind: name, verbs: ["get"] })) });
}

function clusterVersion(status: unknown): Answer {
  return ok({ apiVersion: "config.openshift.io/v1", kind: "ClusterVersion", metadata: { name: "version" }, spec: { clusterID: "c" }, status });
}

const shootInfo = ok({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "shoot-info", namespace: "kube-system" }, data: { domain: "c-test123.kyma.ondemand.com", shootName: "c-test123" } });

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/readyz") {
      res.writeHead(readyz);
      return res.end(readyz === 200 ? "ok" : "not ready");
    }
    requested.push(`${req.method} ${path}`);
    const answer = answers.get(path) ?? status(404, "NotFound", "the server could not find the requested resource");
    res.writeHead(answer.status, { "content-type": "application/json" });
    res.end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = new KubeClient({ server: url, tls: { rejectUnauthorized: true }, auth: async () => ({}), describe: "test" }, { timeoutMs: 5000 });
});

afterAll(() => server.close());

beforeEach(() => {
  answers = new Map();
  readyz = 200;
  requested.length = 0;
});

describe("--platform auto on OpenShift", () => {
  test("serving security.openshift.io alone is OpenShift without a version, and no ClusterVersion is read", async () => {
    answers.set(APIS, groups("security.openshift.io", "route.openshift.io"));
    expect(await detectPlatform(client, "auto")).toEqual({ name: "openshift", evidence: "served: security.openshift.io", version: "" });
    expect(requested).toEqual(["GET /apis"]);
  });

  test("a served ClusterVersion gives OpenShift its version, and no Kyma ConfigMap is read", async () => {
    answers.set(APIS, groups("security.openshift.io", "config.openshift.io"));
    answers.set(CONFIG_V1, resources("clusterversions", "clusteroperators"));
    answers.set(CLUSTER_VERSION, clusterVersion({ desired: { version: "4.16.3" }, history: [{ state: "Completed", version: "4.16.2" }] }));
    expect(await detectPlatform(client, "auto")).toEqual({
      name: "openshift",
      evidence: "served: security.openshift.io, config.openshift.io; ClusterVersion 4.16.3",
      version: "4.16.3",
    });
    expect(requested).toEqual([`GET ${APIS}`, `GET ${CONFIG_V1}`, `GET ${CLUSTER_VERSION}`]);
  });

  test("a ClusterVersion without a desired version reports the newest completed update", async () => {
    answers.set(APIS, groups("config.openshift.io"));
    answers.set(CONFIG_V1, resources("clusterversions"));
    answers.set(
      CLUSTER_VERSION,
      clusterVersion({ history: [{ state: "Partial", version: "4.17.0" }, { state: "Completed", version: "4.16.9" }, { state: "Completed", version: "4.16.3" }] }),
    );
    expect(await detectPlatform(client, "auto")).toEqual({ name: "openshift", evidence: "served: config.openshift.io; ClusterVersion 4.16.9", version: "4.16.9" });
  });

  test("a ClusterVersion the driver may not read leaves the version empty and the evidence says why", async () => {
    answers.set(APIS, groups("security.openshift.io", "config.openshift.io"));
    answers.set(CONFIG_V1, resources("clusterversions"));
    answers.set(CLUSTER_VERSION, forbidden('clusterversions.config.openshift.io "version"'));
    expect(await detectPlatform(client, "auto")).toEqual({
      name: "openshift",
      evidence: "served: security.openshift.io, config.openshift.io; ClusterVersion unreadable (403 Forbidden), version unknown",
      version: "",
    });
  });

  test("config.openshift.io without clusterversions and without SCCs is not OpenShift", async () => {
    answers.set(APIS, groups("config.openshift.io"));
    answers.set(CONFIG_V1, resources("infrastructures"));
    const identity = await detectPlatform(client, "auto");
    expect(identity.name).toBe("kubernetes");
    expect(requested).not.toContain(`GET ${CLUSTER_VERSION}`);
  });

  test("an OpenShift cluster with the Kyma CRDs and shoot-info installed is still OpenShift", async () => {
    answers.set(APIS, groups("security.openshift.io", "gateway.kyma-project.io", "networking.istio.io"));
    answers.set(SHOOT_INFO, shootInfo);
    expect((await detectPlatform(client, "auto")).name).toBe("openshift");
  });
});

describe("--platform auto on Kyma", () => {
  test("the shoot-info ConfigMap alone is Kyma, and the evidence names its domain", async () => {
    answers.set(APIS, groups());
    answers.set(SHOOT_INFO, shootInfo);
    expect(await detectPlatform(client, "auto")).toEqual({
      name: "kyma",
      evidence: "ConfigMap kube-system/shoot-info (domain c-test123.kyma.ondemand.com)",
      version: "",
    });
  });

  test("serving gateway.kyma-project.io alone is Kyma, and the evidence says shoot-info is missing", async () => {
    answers.set(APIS, groups("gateway.kyma-project.io"));
    expect(await detectPlatform(client, "auto")).toEqual({
      name: "kyma",
      evidence: "served: gateway.kyma-project.io; no ConfigMap kube-system/shoot-info",
      version: "",
    });
  });

  test("a shoot-info the driver may not read is unknown, not absent: the APIRule group still makes it Kyma", async () => {
    answers.set(APIS, groups("gateway.kyma-project.io"));
    answers.set(SHOOT_INFO, forbidden('configmaps "shoot-info"'));
    expect(await detectPlatform(client, "auto")).toEqual({
      name: "kyma",
      evidence: "served: gateway.kyma-project.io; ConfigMap kube-system/shoot-info unknown (403 Forbidden on get)",
      version: "",
    });
  });

  test("without Kyma groups, an unreadable shoot-info gives plain Kubernetes and the evidence says it could not look", async () => {
    answers.set(APIS, groups());
    answers.set(SHOOT_INFO, forbidden('configmaps "shoot-info"'));
    expect(await detectPlatform(client, "auto")).toEqual({
      name: "kubernetes",
      evidence: "no OpenShift or Kyma API groups served; ConfigMap kube-system/shoot-info unknown (403 Forbidden on get)",
      version: "",
    });
  });

  test("a 403 from an API server still loading its authorization is thrown, not read as a refusal", async () => {
    answers.set(APIS, groups());
    answers.set(SHOOT_INFO, forbidden('configmaps "shoot-info"'));
    readyz = 503;
    await expect(detectPlatform(client, "auto")).rejects.toMatchObject({ status: 403, apiServerReady: false });
  });
});

describe("--platform auto on plain Kubernetes", () => {
  test("no OpenShift or Kyma sign is plain Kubernetes, after one discovery read and one ConfigMap read", async () => {
    answers.set(APIS, groups());
    expect(await detectPlatform(client, "auto")).toEqual({
      name: "kubernetes",
      evidence: "no OpenShift or Kyma API groups served; no ConfigMap kube-system/shoot-info",
      version: "",
    });
    expect(requested).toEqual([`GET ${APIS}`, `GET ${SHOOT_INFO}`]);
  });

  test("a discovery failure is thrown so the caller retries, never guessed as plain Kubernetes", async () => {
    answers.set(APIS, status(503, "ServiceUnavailable", "the server is currently unable to handle the request"));
    const err = await detectPlatform(client, "auto").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ status: 503 });
  });

  test("a failing group resource list is thrown too", async () => {
    answers.set(APIS, groups("config.openshift.io"));
    answers.set(CONFIG_V1, status(500, "InternalError", "etcdserver: request timed out"));
    await expect(detectPlatform(client, "auto")).rejects.toMatchObject({ status: 500 });
  });
});

describe("an explicit --platform", () => {
  test.each(["kubernetes", "kyma"] as const)("--platform=%s is taken as given without reading the cluster", async (choice) => {
    answers.set(APIS, groups("security.openshift.io"));
    expect(await detectPlatform(client, choice)).toEqual({ name: choice, evidence: `--platform=${choice}`, version: "" });
    expect(requested).toEqual([]);
  });

  test("--platform=openshift reads only the ClusterVersion, for its version", async () => {
    answers.set(CLUSTER_VERSION, clusterVersion({ desired: { version: "4.16.3" } }));
    expect(await detectPlatform(client, "openshift")).toEqual({ name: "openshift", evidence: "--platform=openshift", version: "4.16.3" });
    expect(requested).toEqual([`GET ${CLUSTER_VERSION}`]);
  });

  test.each([
    ["refused", forbidden('clusterversions.config.openshift.io "version"')],
    ["not served", status(404, "NotFound", "the server could not find the requested resource")],
  ] as const)("--platform=openshift with a ClusterVersion %s still starts, without a version", async (_, answer) => {
    answers.set(CLUSTER_VERSION, answer);
    expect(await detectPlatform(client, "openshift")).toEqual({ name: "openshift", evidence: "--platform=openshift", version: "" });
  });
});

describe("the plain Kubernetes adapter", () => {
  const identity = { name: "kubernetes" as const, evidence: "no OpenShift or Kyma API groups served", version: "" };

  test("starts with --expose none", async () => {
    await new KubernetesAdapter(identity, makePlatformSettings({ expose: "none" })).preflight();
  });

  test.each([
    ["route", "OpenShift"],
    ["apirule", "Kyma"],
    ["virtualservice", "Kyma"],
  ] as const)("refuses --expose %s, naming the flag and %s, the platform that serves it", async (expose, platform) => {
    const err = await new KubernetesAdapter(identity, makePlatformSettings({ expose })).preflight().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformProblem);
    const problem = err as PlatformProblem;
    expect(problem.message).toStartWith(`--expose ${expose} creates`);
    expect(problem.message).toContain(`only ${platform} serves`);
    expect(problem.message).toContain("no OpenShift or Kyma API groups served");
    expect(problem.fix).toBe(`run with --expose none here, or on ${platform} (--platform ${platform.toLowerCase()} or auto)`);
  });

  test("leaves the Sandbox CR as rendered and adds nothing beside it", () => {
    const adapter = new KubernetesAdapter(identity, makePlatformSettings());
    const cr = { apiVersion: "agents.x-k8s.io/v1beta1", kind: "Sandbox", metadata: { name: "s", uid: "u" }, spec: {} } as unknown as SandboxResource;
    const target = { name: "openshell-system", labels: {}, annotations: {} };
    expect(adapter.amend(cr, target)).toBe(cr);
    expect(adapter.sideObjects(cr)).toEqual([]);
    expect(adapter.serviceAccountAnnotations(cr)).toEqual({});
    expect(adapter.namespaceLabels()).toEqual({});
  });
});
