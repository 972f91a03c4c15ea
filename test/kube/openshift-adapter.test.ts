// What the OpenShift adapter asks the API server before a sandbox is created and at start: may the
// sandbox's ServiceAccount use the pinned SCC (SubjectAccessReview), does the SCC exist, and would
// it admit the pod. Against a scripted API server that answers those two calls.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { DriverError } from "../../src/driver/errors";
import { KubeClient } from "../../src/kube";
import { OpenShiftAdapter } from "../../src/platform/openshift/adapter";
import type { SecurityContextConstraints } from "../../src/platform/openshift/scc";
import type { PlatformSettings } from "../../src/platform/settings";
import { PlatformProblem, type TargetNamespace } from "../../src/platform/types";
import { renderSandbox, SandboxRequestError, validateSandbox } from "../../src/sandbox";
import type { RenderSettings } from "../../src/sandbox/settings";
import { makeSandbox, makeSettings } from "../unit/fixtures";
import { makePlatformSettings } from "../unit/platform-fixtures";

const SCC_PATH = "/apis/security.openshift.io/v1/securitycontextconstraints/";
const SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews";

const SHIPPED_SCC = join(import.meta.dir, "../../deploy/openshift/sandbox-scc.yaml");
let shipped: SecurityContextConstraints;

/** The SCC deploy/openshift/sandbox-scc.yaml ships, with test-specific changes. */
function sandboxScc(overrides: Partial<SecurityContextConstraints> = {}): SecurityContextConstraints {
  return { ...structuredClone(shipped), ...overrides };
}

interface Denial {
  status: 403;
  message: string;
}

/** The scripted API: one SCC (or none, or a 403), and SubjectAccessReviews answered by `sarAllows`. */
const api = {
  scc: undefined as SecurityContextConstraints | undefined | Denial,
  sarAllows: true as boolean | Denial,
  sccReads: 0,
  reviews: [] as { spec: Record<string, unknown> }[],
};

let server: Server;
let client: KubeClient;

function forbidden(res: import("node:http").ServerResponse, message: string): void {
  res.writeHead(403, { "content-type": "application/json" });
  res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "Forbidden", code: 403, message }));
}

beforeAll(async () => {
  const docs = Bun.YAML.parse(await Bun.file(SHIPPED_SCC).text()) as { kind?: string }[];
  shipped = docs.find((d) => d.kind === "SecurityContextConstraints") as SecurityContextConstraints;
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      if (url.pathname === "/readyz") return res.end("ok");
      if (req.method === "GET" && url.pathname.startsWith(SCC_PATH)) {
        api.sccReads++;
        const scc = api.scc;
        if (scc && "status" in scc) return forbidden(res, scc.message);
        if (!scc || url.pathname !== `${SCC_PATH}${scc.metadata.name}`) {
          res.writeHead(404, { "content-type": "application/json" });
          return res.end(JSON.stringify({ kind: "Status", status: "Failure", reason: "NotFound", code: 404, message: "not found" }));
        }
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify(scc));
      }
      if (req.method === "GET" && url.pathname.startsWith("/api/v1/namespaces/")) {
        const name = url.pathname.slice("/api/v1/namespaces/".length);
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name, annotations: NAMESPACE_ANNOTATIONS } }));
      }
      if (req.method === "POST" && url.pathname === SAR_PATH) {
        const review = JSON.parse(body) as { spec: Record<string, unknown> };
        api.reviews.push(review);
        if (typeof api.sarAllows === "object") return forbidden(res, api.sarAllows.message);
        res.writeHead(201, { "content-type": "application/json" });
        return res.end(JSON.stringify({ ...review, status: { allowed: api.sarAllows } }));
      }
      res.writeHead(404);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = new KubeClient({ server: url, tls: { rejectUnauthorized: true }, auth: async () => ({}), describe: "test" }, { timeoutMs: 5000 });
});

afterAll(() => server.close());

let clock = 0;
beforeEach(() => {
  api.scc = sandboxScc();
  api.sarAllows = true;
  api.sccReads = 0;
  api.reviews.length = 0;
  clock = 1_000_000;
});

const NAMESPACE_ANNOTATIONS = {
  "openshift.io/sa.scc.uid-range": "1000680000/10000",
  "openshift.io/sa.scc.supplemental-groups": "1000690000/10000",
  "openshift.io/sa.scc.mcs": "s0:c26,c10",
};

function adapter(platform: Partial<PlatformSettings> = {}, render: Partial<RenderSettings> = {}): OpenShiftAdapter {
  return new OpenShiftAdapter({
    client,
    identity: { name: "openshift", evidence: "--platform=openshift", version: "4.16.3" },
    platform: makePlatformSettings({ platform: "openshift", ...platform }),
    render: makeSettings({ workspaceMode: "managed", ...render }),
    now: () => clock,
  });
}

/** A rendered and amended sandbox, and the namespace it goes into. */
function sandboxFor(openshift: OpenShiftAdapter, render: Partial<RenderSettings> = {}) {
  const settings = makeSettings({ workspaceMode: "managed", ...render });
  const cr = renderSandbox(validateSandbox(makeSandbox(), settings), settings, NAMESPACE_ANNOTATIONS);
  const target: TargetNamespace = { name: cr.metadata.namespace ?? "", labels: {}, annotations: NAMESPACE_ANNOTATIONS };
  return { resource: openshift.amend(cr, target), target };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof Error)) throw new Error("expected a rejection");
  return err;
}

describe("checkSandbox: may the sandbox's ServiceAccount use the SCC, and does the SCC admit its pod", () => {
  test("an allowed ServiceAccount and a fitting pod pass, after one access review of exactly that SA, verb and SCC", async () => {
    const openshift = adapter();
    const { resource, target } = sandboxFor(openshift);
    await openshift.checkSandbox(resource, target);
    expect(api.reviews.map((r) => r.spec)).toEqual([
      {
        user: "system:serviceaccount:openshell-gw-test-alice:openshell-sandbox",
        groups: ["system:serviceaccounts", "system:serviceaccounts:openshell-gw-test-alice", "system:authenticated"],
        resourceAttributes: {
          namespace: "openshell-gw-test-alice",
          verb: "use",
          group: "security.openshift.io",
          resource: "securitycontextconstraints",
          name: "openshell-sandbox",
        },
      },
    ]);
  });

  test("the OAuth proxy's container and volumes fit the shipped SCC, in both topologies", async () => {
    const openshift = adapter({ expose: "route", openshiftOauthProxy: true });
    for (const supervisorTopology of ["combined", "sidecar"] as const) {
      const { resource, target } = sandboxFor(openshift, { supervisorTopology });
      await openshift.checkSandbox(resource, target);
    }
  });

  test("a ServiceAccount without `use` on the SCC is refused with FAILED_PRECONDITION and the oc command that grants it", async () => {
    api.sarAllows = false;
    const openshift = adapter();
    const { resource, target } = sandboxFor(openshift);
    const err = await rejection(openshift.checkSandbox(resource, target));
    expect(err).toBeInstanceOf(DriverError);
    expect((err as DriverError).code).toBe("FailedPrecondition");
    expect(err.message).toContain('ServiceAccount "openshell-sandbox" in namespace "openshell-gw-test-alice" may not use SCC "openshell-sandbox"');
    expect(err.message).toContain("oc adm policy add-scc-to-user openshell-sandbox -z openshell-sandbox -n openshell-gw-test-alice");
  });

  test("a ServiceAccount the SCC lists in its own users is allowed without an access review", async () => {
    api.scc = sandboxScc({ users: ["system:serviceaccount:openshell-gw-test-alice:openshell-sandbox"] });
    api.sarAllows = false;
    const openshift = adapter();
    const { resource, target } = sandboxFor(openshift);
    await openshift.checkSandbox(resource, target);
    expect(api.reviews).toEqual([]);
  });

  test("a missing SCC is refused with FAILED_PRECONDITION naming the SCC and the manifest that creates it", async () => {
    api.scc = undefined;
    const openshift = adapter();
    const { resource, target } = sandboxFor(openshift);
    const err = await rejection(openshift.checkSandbox(resource, target));
    expect((err as DriverError).code).toBe("FailedPrecondition");
    expect(err.message).toContain('SCC "openshell-sandbox" (--openshift-scc) does not exist; apply deploy/openshift/sandbox-scc.yaml');
  });

  test("an SCC without SYS_ADMIN refuses the combined pod, and the error names the agent container's capability", async () => {
    api.scc = sandboxScc({ allowedCapabilities: shipped.allowedCapabilities?.filter((c) => c !== "SYS_ADMIN") ?? [] });
    const openshift = adapter();
    const { resource, target } = sandboxFor(openshift);
    const err = await rejection(openshift.checkSandbox(resource, target));
    expect(err).toBeInstanceOf(SandboxRequestError);
    expect((err as SandboxRequestError).code).toBe("FailedPrecondition");
    expect((err as SandboxRequestError).field).toBe("spec.containers[agent].securityContext.capabilities.add[SYS_ADMIN]");
    expect(err.message).toEndWith('the pod would be refused by SCC "openshell-sandbox"');
  });

  test("every misfit is listed, the first as the field: an SCC without secrets refuses the OAuth proxy's volumes too", async () => {
    api.scc = sandboxScc({ allowedCapabilities: [], volumes: ["emptyDir", "image", "persistentVolumeClaim", "projected"] });
    const openshift = adapter({ expose: "route", openshiftOauthProxy: true });
    const { resource, target } = sandboxFor(openshift);
    const err = await rejection(openshift.checkSandbox(resource, target));
    expect((err as SandboxRequestError).field).toBe("spec.volumes[oauth-proxy-tls].secret");
    expect(err.message).toContain("spec.volumes[oauth-proxy-cookie].secret: ");
    expect(err.message).toContain("spec.containers[agent].securityContext.capabilities.add[SYS_ADMIN]: ");
  });

  test("a 403 on the access review is the driver's own missing RBAC rule, named in the message", async () => {
    api.sarAllows = {
      status: 403,
      message:
        'subjectaccessreviews.authorization.k8s.io is forbidden: User "system:serviceaccount:openshell:openshell-driver" cannot create resource "subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope',
    };
    const openshift = adapter();
    const { resource, target } = sandboxFor(openshift);
    const err = await rejection(openshift.checkSandbox(resource, target));
    expect(err).toBeInstanceOf(DriverError);
    expect((err as DriverError).code).toBe("FailedPrecondition");
    expect(err.message).toContain('the driver\'s identity "system:serviceaccount:openshell:openshell-driver" may not create subjectaccessreviews.authorization.k8s.io');
    expect(err.message).toContain("{apiGroups: [authorization.k8s.io], resources: [subjectaccessreviews], verbs: [create]}");
  });

  test("a 403 on reading the SCC names the get rule with the SCC as its resourceName", async () => {
    api.scc = { status: 403, message: "forbidden" };
    const openshift = adapter();
    const { resource, target } = sandboxFor(openshift);
    const err = await rejection(openshift.checkSandbox(resource, target));
    expect((err as DriverError).code).toBe("FailedPrecondition");
    expect(err.message).toContain("resources: [securitycontextconstraints], resourceNames: [openshell-sandbox], verbs: [get]");
  });

  test("an allowed answer and the SCC are reused for 30 s: a second check asks nothing, a later one asks again", async () => {
    const openshift = adapter();
    const { resource, target } = sandboxFor(openshift);
    await openshift.checkSandbox(resource, target);
    await openshift.checkSandbox(resource, target);
    expect([api.reviews.length, api.sccReads]).toEqual([1, 1]);
    clock += 30_001;
    await openshift.checkSandbox(resource, target);
    expect([api.reviews.length, api.sccReads]).toEqual([2, 2]);
  });

  test("a denial is not remembered: once the grant is made, the next check passes", async () => {
    api.sarAllows = false;
    const openshift = adapter();
    const { resource, target } = sandboxFor(openshift);
    await rejection(openshift.checkSandbox(resource, target));
    api.sarAllows = true;
    await openshift.checkSandbox(resource, target);
    expect(api.reviews.length).toBe(2);
  });
});

describe("checkNamespace and preflight", () => {
  test("EnsureWorkspace asks about the configured sandbox ServiceAccount in that namespace", async () => {
    api.sarAllows = false;
    const err = await rejection(adapter().checkNamespace({ name: "team-a", labels: {}, annotations: {} }));
    expect(err.message).toContain("oc adm policy add-scc-to-user openshell-sandbox -z openshell-sandbox -n team-a");
  });

  test("at start a missing SCC is a platform problem whose fix applies the SCC manifest", async () => {
    api.scc = undefined;
    const err = await rejection(adapter().preflight());
    expect(err).toBeInstanceOf(PlatformProblem);
    expect((err as PlatformProblem).fix).toContain("oc apply -f deploy/openshift/sandbox-scc.yaml");
  });

  test("in shared mode the driver namespace's sandbox ServiceAccount must be allowed the SCC at start", async () => {
    api.sarAllows = false;
    const err = await rejection(adapter({}, { workspaceMode: "shared", serviceAccountName: "" }).preflight());
    expect(err).toBeInstanceOf(PlatformProblem);
    expect((err as PlatformProblem).fix).toBe("oc adm policy add-scc-to-user openshell-sandbox -z default -n openshell");
  });

  test("in shared mode, start passes when the least sandbox the flags render fits the SCC in the driver's namespace", async () => {
    await adapter({}, { workspaceMode: "shared" }).preflight();
    expect([api.sccReads, api.reviews.length]).toEqual([1, 1]);
  });

  test("in shared mode, flags whose least sandbox does not fit the SCC fail at start, naming the field", async () => {
    const err = await rejection(adapter({}, { workspaceMode: "shared", seccompProfile: { type: "Unconfined" } }).preflight());
    expect(err).toBeInstanceOf(PlatformProblem);
    expect(err.message).toContain('do not fit SCC "openshell-sandbox": spec.securityContext.seccompProfile');
    expect((err as PlatformProblem).fix).toContain("deploy/openshift/sandbox-scc.yaml");
  });

  test("in managed mode start checks only that the SCC exists: namespaces come later", async () => {
    api.sarAllows = false;
    await adapter().preflight();
    expect([api.sccReads, api.reviews.length]).toEqual([1, 0]);
  });

  test("a Kyma exposure is refused at start, naming --expose", async () => {
    const err = await rejection(adapter({ expose: "apirule" }).preflight());
    expect(err).toBeInstanceOf(PlatformProblem);
    expect(err.message).toContain("--expose apirule");
    expect(api.sccReads).toBe(0);
  });

  test("the OAuth proxy cannot front a sandbox port that is its own listening port", async () => {
    const err = await rejection(adapter({ expose: "route", openshiftOauthProxy: true, exposePort: 8443 }).preflight());
    expect(err.message).toContain("--expose-port 8443");
  });

  test("missing driver RBAC at start is a platform problem whose fix is the rule", async () => {
    api.scc = { status: 403, message: "forbidden" };
    const err = await rejection(adapter().preflight());
    expect(err).toBeInstanceOf(PlatformProblem);
    expect((err as PlatformProblem).fix).toContain("resourceNames: [openshell-sandbox], verbs: [get]");
  });
});
