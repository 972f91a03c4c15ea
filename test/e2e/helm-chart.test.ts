// e2e tier: the Helm chart deploy/helm/openshell-driver-k8s, rendered by the project's pinned Helm
// (scripts/helm.sh) and judged by the local control plane's real admission: every profile lints
// clean and applies with --dry-run=server, its driver pod is admitted into a namespace that
// enforces Pod Security `restricted`, bad values are refused by the schema, the CRD check stops an
// install without agents.x-k8s.io, and deploy/rbac*.yaml are exactly what the chart renders.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { envVarFor, FLAGS } from "../../src/config/flags";
import { driverOwnedReader } from "../../src/sandbox/policy";
import { clusterState, installPlatformFlavour, kubectl } from "../support/cluster";
import { REPO } from "../support/paths";

const CHART = join(REPO, "deploy/helm/openshell-driver-k8s");
const RUN = Date.now().toString(36);
const HAS_CRDS = ["--api-versions", "agents.x-k8s.io/v1alpha1"];
/** Cluster-scoped objects of a dry run are named apart from the e2e suite's real ones. */
const NAME = `helm-e2e-${RUN}`;
const NAMED = ["--set", `name=${NAME}`];
const RBAC_FILES = [
  "deploy/rbac.yaml",
  "deploy/rbac-managed.yaml",
  "deploy/rbac-operator.yaml",
  "deploy/rbac-openshift.yaml",
  "deploy/rbac-kyma.yaml",
  "deploy/openshift/sandbox-scc.yaml",
];

type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } } & Record<string, any>;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(argv: string[], input?: string): Run {
  const proc = Bun.spawnSync(argv, { stdin: input === undefined ? "ignore" : Buffer.from(input), stdout: "pipe", stderr: "pipe" });
  return { code: proc.exitCode ?? -1, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() };
}

function helm(args: string[]): Run {
  return run(["bash", join(REPO, "scripts/helm.sh"), ...args]);
}

function kubectlRun(args: string[], input?: string): Run {
  const state = clusterState();
  return run([join(state.binDir, "kubectl"), "--kubeconfig", state.kubeconfig, ...args], input);
}

function profileValues(profile: string): string[] {
  return ["-f", join(CHART, "ci", `${profile}-values.yaml`)];
}

/** `helm template` of the chart into `namespace`; fails the test with Helm's error. */
function render(namespace: string, args: string[]): Doc[] {
  const out = helm(["template", "openshell", CHART, "--namespace", namespace, ...args]);
  if (out.code !== 0) throw new Error(`helm template ${args.join(" ")} failed: ${out.stderr}`);
  return documentsOf(out.stdout);
}

/** Every document of a multi-document YAML text, as plain data (field names as written). */
function documentsOf(text: string): Doc[] {
  const parsed = Bun.YAML.parse(text) as Doc | (Doc | null)[] | null;
  return (Array.isArray(parsed) ? parsed : [parsed]).filter((d): d is Doc => d !== null);
}

function only(docs: Doc[], kind: string): Doc {
  const found = docs.filter((d) => d.kind === kind);
  expect(found.map((d) => d.kind)).toEqual([kind]);
  return found[0]!;
}

function envOf(container: any): Record<string, string> {
  return Object.fromEntries((container.env ?? []).map((e: { name: string; value: string }) => [e.name, e.value]));
}

/** A fresh namespace whose Pod Security admission enforces (and warns at) `restricted`. */
function restrictedNamespace(name: string): string {
  // Created with its labels: admission reads them from a cache that a later label could still miss.
  const labels = { "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted" };
  kubectl(["create", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels } }) });
  return name;
}

/**
 * The Deployment's pod created with --dry-run=server, so Pod Security judges it for real (it only
 * warns about Deployments). The pod needs its ServiceAccounts to exist, so those (namespaced, in
 * the throwaway namespace) are created for real.
 */
function createDriverPod(namespace: string, docs: Doc[]): Run {
  const serviceAccounts = docs.filter((d) => d.kind === "ServiceAccount" && d.metadata.namespace === namespace);
  kubectl(["apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items: serviceAccounts }) });
  const template = only(docs, "Deployment").spec.template;
  const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "driver", namespace, labels: template.metadata.labels }, spec: template.spec };
  return kubectlRun(["create", "--dry-run=server", "-f", "-"], JSON.stringify(pod));
}

/** Every rendered object applied with --dry-run=server, then the driver's pod, all accepted silently. */
function expectAdmitted(namespace: string, docs: Doc[]): void {
  const apply = kubectlRun(["apply", "--server-side", "--force-conflicts", "--dry-run=server", "--field-manager=helm-chart-e2e", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: docs }));
  const created = createDriverPod(namespace, docs);
  // stderr carries Pod Security's "would violate" warnings as well as errors.
  expect({ apply: apply.stderr, pod: created.stderr }).toEqual({ apply: "", pod: "" });
  expect([apply.code, created.code]).toEqual([0, 0]);
}

const namespaces: string[] = [];

beforeAll(() => {
  // The first run builds Helm from the Go module proxy (about two minutes cold).
  const build = helm(["--build-only"]);
  if (build.code !== 0) throw new Error(`scripts/helm.sh --build-only failed: ${build.stderr}`);
}, 900_000);

afterAll(() => {
  for (const ns of namespaces) kubectl(["delete", "namespace", ns, "--wait=false", "--ignore-not-found"], { allowFailure: true });
});

describe("the chart's values", () => {
  test.each(["kubernetes", "openshift", "kyma", "gateway", "managed", "operator"])("helm lint --strict finds nothing to say about the %s profile", (profile) => {
    const out = helm(["lint", "--strict", CHART, ...profileValues(profile), "--set", "crdCheck=false"]);
    expect(out.stderr + out.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    expect(out.code).toBe(0);
  });

  test("a workspace mode the driver does not know is refused by the schema, naming the value and the choices", () => {
    const out = helm(["template", "x", CHART, ...HAS_CRDS, "--set", "driver.flags.workspaceMode=bogus"]);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain("values don't meet the specifications of the schema");
    expect(out.stderr).toMatch(/driver\/flags\/workspaceMode/);
    expect(out.stderr).toMatch(/shared.*managed.*operator/);
  });

  test("a misspelt flag and a wrongly typed one are refused rather than ignored", () => {
    const misspelt = helm(["template", "x", CHART, ...HAS_CRDS, "--set", "driver.flags.workspacemode=shared"]);
    expect(misspelt.code).not.toBe(0);
    expect(misspelt.stderr).toContain("workspacemode");
    const wrongType = helm(["template", "x", CHART, ...HAS_CRDS, "--set-string", "driver.flags.gpuSupport=maybe"]);
    expect(wrongType.code).not.toBe(0);
    expect(wrongType.stderr).toMatch(/gpuSupport/);
  });

  test("every serve flag set in driver.flags reaches the driver as its OPENSHELL_DRIVER_* variable", () => {
    const schema = JSON.parse(readFileSync(join(CHART, "values.schema.json"), "utf8"));
    const props = schema.properties.driver.properties.flags.properties as Record<string, { type?: string[]; enum?: unknown[] }>;
    const flags: Record<string, unknown> = {};
    for (const [key, prop] of Object.entries(props)) {
      flags[key] = prop.enum ? prop.enum.find((v) => v !== null && v !== "") : prop.type?.[0] === "boolean" ? true : prop.type?.[0] === "integer" ? 1 : "x";
    }
    flags.socket = "/var/run/openshell-compute/driver/driver.sock";
    flags.sandboxUid = 1000680000;
    const file = join(mkdtempSync(join(tmpdir(), "osd-helm-")), "all-flags.yaml");
    writeFileSync(file, JSON.stringify({ crdCheck: false, driver: { flags } }));
    const driver = only(render("openshell-system", ["-f", file]), "Deployment").spec.template.spec.containers[0];
    expect(Object.keys(envOf(driver)).sort()).toEqual(Object.keys(FLAGS).map(envVarFor).sort());
    // A values file's numbers are floats to Helm; a UID must still arrive as digits.
    expect(envOf(driver).OPENSHELL_DRIVER_SANDBOX_UID).toBe("1000680000");
  });
});

describe("the release's pod identity", () => {
  test("its NetworkPolicies and the gateway Service select it only by keys under openshell.ai/, which no sandbox request can set", () => {
    const docs = render("openshell-system", [...HAS_CRDS, ...profileValues("gateway"), ...NAMED, "--set", "networkPolicy.sandbox.enabled=true"]);
    const identity = { "openshell.ai/component": "driver", "openshell.ai/release": "openshell" };
    const podLabels = only(docs, "Deployment").spec.template.metadata.labels;
    expect(podLabels).toMatchObject(identity);
    const policies = docs.filter((d) => d.kind === "NetworkPolicy");
    const own = policies.find((d) => d.metadata.name === NAME)!;
    const sandboxes = policies.find((d) => d.metadata.name === `${NAME}-sandboxes`)!;
    const selectors = [
      own.spec.podSelector.matchLabels,
      sandboxes.spec.ingress[0].from[0].podSelector.matchLabels,
      sandboxes.spec.egress[1].to[0].podSelector.matchLabels,
      only(docs, "Service").spec.selector,
    ];
    for (const selector of selectors) {
      expect(selector).toEqual(identity);
      for (const key of Object.keys(selector)) expect(driverOwnedReader(key)).toBeDefined();
    }
  });
});

describe("the Sandbox CRD check", () => {
  test("an install where the cluster serves no agents.x-k8s.io fails and says what to install", () => {
    const out = helm(["template", "x", CHART]);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain("the cluster serves no agents.x-k8s.io Sandbox API (v1beta1 or v1alpha1): install the agent-sandbox controller");
  });

  test("helm install --dry-run=server against the local control plane finds the Sandbox API through discovery", () => {
    const ns = restrictedNamespace(`helm-install-${RUN}`);
    namespaces.push(ns);
    const out = helm(["install", "openshell", CHART, "--kubeconfig", clusterState().kubeconfig, "--namespace", ns, "--dry-run=server", ...NAMED]);
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    expect(out.stdout).toContain("kind: Deployment");
  });

  test("the same install renders once the API versions include agents.x-k8s.io/v1alpha1 or v1beta1, or with crdCheck=false", () => {
    expect(helm(["template", "x", CHART, ...HAS_CRDS]).code).toBe(0);
    expect(helm(["template", "x", CHART, "--api-versions", "agents.x-k8s.io/v1beta1"]).code).toBe(0);
    expect(helm(["template", "x", CHART, "--set", "crdCheck=false"]).code).toBe(0);
  });
});

describe("each profile on the local control plane (dry-run, Pod Security restricted)", () => {
  test("kubernetes: the driver alone, its pod admitted as restricted with UID 65532, RBAC of shared mode", () => {
    const ns = restrictedNamespace(`helm-k8s-${RUN}`);
    namespaces.push(ns);
    const docs = render(ns, [...HAS_CRDS, ...profileValues("kubernetes"), ...NAMED]);
    expectAdmitted(ns, docs);
    const spec = only(docs, "Deployment").spec.template.spec;
    expect(spec.containers.map((c: any) => c.name)).toEqual(["driver"]);
    expect(spec.securityContext.runAsUser).toBe(65532);
    expect(docs.find((d) => d.kind === "Role")!.metadata.name).toBe(NAME);
    expect(docs.filter((d) => d.kind === "NetworkPolicy").map((d) => d.metadata.name).sort()).toEqual([NAME, `${NAME}-sandboxes`]);
  });

  test("a container added through driver.extraContainers without the hardening is refused by that same admission", () => {
    const ns = restrictedNamespace(`helm-extra-${RUN}`);
    namespaces.push(ns);
    const file = join(mkdtempSync(join(tmpdir(), "osd-helm-")), "extra.yaml");
    writeFileSync(file, JSON.stringify({ driver: { extraContainers: [{ name: "gateway", image: "busybox" }] } }));
    const created = createDriverPod(ns, render(ns, [...HAS_CRDS, ...profileValues("kubernetes"), ...NAMED, "-f", file]));
    expect(created.code).not.toBe(0);
    expect(created.stderr).toContain('violates PodSecurity "restricted:latest"');
    expect(created.stderr).toContain('container "gateway"');
  });

  test("kyma: the namespace the chart creates is labelled privileged for sandboxes, while the driver pod still fits restricted", () => {
    const ns = restrictedNamespace(`helm-kyma-${RUN}`);
    namespaces.push(ns);
    const docs = render(ns, [...HAS_CRDS, ...profileValues("kyma"), ...NAMED]);
    expectAdmitted(ns, docs);
    expect(only(docs, "Namespace").metadata.labels!["pod-security.kubernetes.io/enforce"]).toBe("privileged");
    const exposeRole = docs.find((d) => d.kind === "Role" && d.metadata.name === `${NAME}-kyma`)!;
    expect(exposeRole.rules.flatMap((r: any) => r.resources)).toEqual(["services", "networkpolicies", "virtualservices", "events"]);
  });

  test("gateway+driver: one pod, both containers under the pod's one UID, the gateway pointed at the driver's socket and its TOML at the driver's namespace", () => {
    const ns = restrictedNamespace(`helm-gw-${RUN}`);
    namespaces.push(ns);
    const docs = render(ns, [...HAS_CRDS, ...profileValues("gateway"), ...NAMED]);
    expectAdmitted(ns, docs);
    const spec = only(docs, "Deployment").spec.template.spec;
    const [driver, gateway] = spec.containers;
    expect([driver.name, gateway.name]).toEqual(["driver", "gateway"]);
    expect(driver.securityContext.runAsUser ?? gateway.securityContext.runAsUser).toBeUndefined();
    expect(gateway.args.slice(0, 4)).toEqual(["--drivers", "kubernetes", "--compute-driver-socket", envOf(driver).OPENSHELL_DRIVER_SOCKET]);
    expect(envOf(driver).OPENSHELL_DRIVER_GATEWAY_ENDPOINT).toBe(`http://${NAME}-gateway.${ns}.svc:8080`);
    const toml = only(docs, "ConfigMap").data["gateway.toml"] as string;
    expect(toml).toContain(`[openshell.drivers.kubernetes]\nnamespace = "${ns}"\nservice_account_name = "openshell-sandbox"\nworkspace_mode = "shared"`);
    expect(only(docs, "Service").spec.ports[0].targetPort).toBe("grpc");
    // The gateway never holds the driver's token: nothing is automounted, each container mounts its own.
    expect(spec.automountServiceAccountToken).toBe(false);
    const tokenVolume = (c: any) => c.volumeMounts.find((m: any) => m.mountPath === "/var/run/secrets/kubernetes.io/serviceaccount")?.name;
    expect(spec.volumes.find((v: any) => v.name === tokenVolume(gateway)).secret.secretName).toBe(`${NAME}-gateway-token`);
    expect(spec.volumes.find((v: any) => v.name === tokenVolume(driver)).projected.sources[0].serviceAccountToken).toBeDefined();
    const tokenSecret = docs.find((d) => d.kind === "Secret" && d.metadata.name === `${NAME}-gateway-token`)!;
    expect((tokenSecret.metadata as any).annotations["kubernetes.io/service-account.name"]).toBe(`${NAME}-gateway`);
    const gatewayBindings = docs.filter((d) => d.kind.endsWith("Binding") && d.metadata.name === `${NAME}-gateway`);
    expect(gatewayBindings.flatMap((b) => b.subjects.map((x: any) => x.name))).toEqual([`${NAME}-gateway`, `${NAME}-gateway`]);
  });

  test("managed: the workspace namespaces' rights are cluster-wide and confined by the ValidatingAdmissionPolicy to this identity", () => {
    const ns = restrictedNamespace(`helm-managed-${RUN}`);
    namespaces.push(ns);
    const docs = render(ns, [...HAS_CRDS, ...profileValues("managed"), "--set", `name=helm-managed-${RUN}`]);
    expectAdmitted(ns, docs);
    const policy = only(docs, "ValidatingAdmissionPolicy");
    // By ServiceAccount name in any namespace: a namespace override cannot switch the policy off.
    expect(policy.spec.matchConditions[0].expression).toBe(`request.userInfo.username.startsWith('system:serviceaccount:') && request.userInfo.username.endsWith(':helm-managed-${RUN}')`);
    expect(policy.spec.matchConstraints.resourceRules.flatMap((r: any) => r.resources)).toEqual(
      expect.arrayContaining(["namespaces", "secrets", "services", "sandboxes", "routes", "virtualservices", "apirules"]),
    );
    const binding = only(docs, "ValidatingAdmissionPolicyBinding");
    expect(binding.spec.paramRef).toMatchObject({ name: `helm-managed-${RUN}-admission`, namespace: ns, parameterNotFoundAction: "Deny" });
    expect(docs.find((d) => d.kind === "ConfigMap" && d.metadata.name === `helm-managed-${RUN}-admission`)!.data.gatewayId).toBe("openshell");
  });

  test("operator: no write outside the namespaces the operator binds, and GPU checks off means no node reads", () => {
    const ns = restrictedNamespace(`helm-operator-${RUN}`);
    namespaces.push(ns);
    const docs = render(ns, [...HAS_CRDS, ...profileValues("operator"), ...NAMED]);
    expectAdmitted(ns, docs);
    const reads = docs.find((d) => d.kind === "ClusterRole" && d.metadata.name === NAME)!;
    expect(reads.rules.flatMap((r: any) => r.resources)).not.toContain("nodes");
    expect(reads.rules.flatMap((r: any) => r.verbs)).not.toContain("create");
  });

  test("with the gateway in the pod, the sandboxes' supervisor image follows the gateway's tag unless the supervisor image is set", () => {
    const env = (extra: string[]) => {
      const deployment = only(render("openshell-system", [...HAS_CRDS, "--set", "gateway.enabled=true", "--set", "gateway.image.tag=0.0.40", ...extra]), "Deployment");
      const driver = deployment.spec.template.spec.containers.find((c: any) => c.name === "driver");
      return driver.env.find((e: any) => e.name === "OPENSHELL_DRIVER_SUPERVISOR_IMAGE")?.value;
    };
    expect(env([])).toBe("ghcr.io/nvidia/openshell/supervisor:0.0.40");
    expect(env(["--set", "driver.flags.supervisorImage=registry.example.test/supervisor:1.2.3"])).toBe("registry.example.test/supervisor:1.2.3");
  });

  test("gateway with operator mode is refused at render: upstream's gateway needs its in-process driver for it", () => {
    const out = helm(["template", "x", CHART, ...HAS_CRDS, ...profileValues("operator"), "--set", "gateway.enabled=true"]);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain("the gateway refuses operator mode with an external driver");
  });
});

describe("the openshift profile on the OpenShift flavour", () => {
  beforeAll(() => {
    installPlatformFlavour("openshift");
  }, 180_000);
  afterAll(() => {
    installPlatformFlavour("kubernetes");
  }, 180_000);

  test("openshift: no UID fixed anywhere, the sandbox SCC and its use grant render and the API server accepts them", () => {
    const ns = restrictedNamespace(`helm-ocp-${RUN}`);
    namespaces.push(ns);
    const docs = render(ns, [...HAS_CRDS, ...profileValues("openshift"), ...NAMED]);
    expectAdmitted(ns, docs);
    const spec = only(docs, "Deployment").spec.template.spec;
    expect(JSON.stringify(spec)).not.toMatch(/runAsUser|runAsGroup|fsGroup/);
    expect(only(docs, "SecurityContextConstraints").metadata.name).toBe("openshell-sandbox");
    const grant = docs.find((d) => d.kind === "RoleBinding" && d.metadata.name === "openshell-sandbox-scc")!;
    expect(grant.subjects).toEqual([{ kind: "ServiceAccount", name: "openshell-sandbox", namespace: ns }]);
  });
});

describe("deploy/ RBAC has one source", () => {
  test("scripts/gen-rbac.sh regenerates every committed deploy/rbac*.yaml and the sandbox SCC byte for byte", () => {
    const out = mkdtempSync(join(tmpdir(), "osd-gen-rbac-"));
    const gen = run(["bash", join(REPO, "scripts/gen-rbac.sh"), out]);
    expect(gen.stderr).toBe("");
    expect(gen.code).toBe(0);
    for (const file of RBAC_FILES) {
      expect({ file, text: readFileSync(join(out, file), "utf8") }).toEqual({ file, text: readFileSync(join(REPO, file), "utf8") });
    }
  });
});
