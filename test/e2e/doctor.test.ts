// e2e tier: the compiled `doctor` against the local control plane, as each least-privileged
// driver identity. A healthy cluster passes; a namespace at the wrong Pod Security level, a rule
// taken out of the identity's Role and, on the OpenShift flavour, an SCC not granted to the
// sandbox ServiceAccount each fail with the fix that puts it right.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DoctorDocument } from "../../src/doctor/report";
import { driverKubeconfig, grantDriverRoleIn, installPlatformFlavour, kubectl, kubectlJson, revokePlatformRules, serviceAccountUser, untilAllowed } from "../support/cluster";
import { DRIVER_BIN, REPO } from "../support/paths";

const RUN = Date.now().toString(36);
const BASELINE_NS = `doctor-baseline-${RUN}`;
const NARROW_SA = `doctor-narrow-${RUN}`;
const UNGRANTED_SA = `doctor-nogrant-${RUN}`;
const work = mkdtempSync(join(tmpdir(), "doctor-e2e-"));
/** A supervisor pinned as a gateway release would pin it (the default :latest is a warning). */
const PINNED_SUPERVISOR = "--supervisor-image=ghcr.io/nvidia/openshell/supervisor:0.0.40";

interface DoctorRun {
  code: number;
  text: string;
  json: DoctorDocument;
}

/** Runs the binary twice with the same flags: text for the fix lines a user reads, json for the statuses. */
function doctor(kubeconfig: string, args: string[] = []): DoctorRun {
  const run = (output: string) =>
    Bun.spawnSync([DRIVER_BIN, "doctor", `--kubeconfig=${kubeconfig}`, `--socket=${join(work, "sock", "driver.sock")}`, `--output=${output}`, ...args], {
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "", HOME: work },
    });
  const text = run("text");
  const json = run("json");
  expect(json.exitCode).toBe(text.exitCode);
  return { code: text.exitCode, text: text.stdout.toString(), json: JSON.parse(json.stdout.toString()) as DoctorDocument };
}

function check(run: DoctorRun, name: string) {
  return run.json.checks.find((c) => c.name === name);
}

/** The shared-mode identity minus `delete sandboxes`: its own ServiceAccount, Role and cluster reads. */
function narrowIdentityKubeconfig(): string {
  const role = kubectlJson<{ rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] }>(["get", "role", "openshell-driver", "-n", "openshell-system"]);
  const rules = role.rules.map((r) => (r.resources.includes("sandboxes") ? { ...r, verbs: r.verbs.filter((v) => v !== "delete") } : r));
  const subject = [{ kind: "ServiceAccount", name: NARROW_SA, namespace: "openshell-system" }];
  const manifest = join(work, "narrow-rbac.json");
  writeFileSync(
    manifest,
    JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      items: [
        { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: NARROW_SA, namespace: "openshell-system" } },
        { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: NARROW_SA, namespace: "openshell-system" }, rules },
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "RoleBinding",
          metadata: { name: NARROW_SA, namespace: "openshell-system" },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: NARROW_SA },
          subjects: subject,
        },
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRoleBinding",
          metadata: { name: NARROW_SA },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "openshell-driver-cluster-reads" },
          subjects: subject,
        },
      ],
    }),
  );
  const out = join(work, "narrow.kubeconfig");
  const proc = Bun.spawnSync(["bash", join(REPO, "cluster/driver-kubeconfig.sh"), NARROW_SA, manifest, out], { stdout: "pipe", stderr: "pipe" });
  if (proc.exitCode !== 0) throw new Error(`driver-kubeconfig.sh failed: ${proc.stderr.toString()}`);
  untilAllowed(serviceAccountUser(NARROW_SA), "watch", "sandboxes.agents.x-k8s.io", "openshell-system");
  untilAllowed(serviceAccountUser(NARROW_SA), "list", "nodes");
  return out;
}

let sharedKubeconfig: string;

beforeAll(() => {
  sharedKubeconfig = driverKubeconfig();
});

afterAll(() => {
  kubectl(["delete", "namespace", BASELINE_NS, "--ignore-not-found", "--wait=false"], { allowFailure: true });
  kubectl(["delete", "clusterrolebinding,clusterrole", `doctor-ns-${RUN}`, "--ignore-not-found"], { allowFailure: true });
  kubectl(["delete", "clusterrolebinding", NARROW_SA, "--ignore-not-found"], { allowFailure: true });
  kubectl(["delete", "rolebinding,role,serviceaccount", NARROW_SA, "-n", "openshell-system", "--ignore-not-found"], { allowFailure: true });
});

describe("doctor on the local cluster", () => {
  test("as the least-privileged shared-mode identity on the healthy cluster, every check passes and it exits 0", () => {
    const run = doctor(sharedKubeconfig, [PINNED_SUPERVISOR]);
    expect(run.json.checks.filter((c) => c.status !== "PASS")).toEqual([]);
    expect(run.code).toBe(0);
    expect(run.json.ok).toBe(true);
    expect(run.text).toMatch(/^PASS {2}credentials +kubeconfig .*driver\.kubeconfig/m);
    // The local controller runs as a process, not a Deployment: on agent-sandbox v0.5.x and v1.0.x
    // alike, a suspended probe Sandbox it reconciles (and that is deleted again) tells, unless a
    // Sandbox it already reconciled does.
    expect(check(run, "sandbox controller")?.detail).toMatch(/the controller reconciled a suspended probe Sandbox|written by the controller/);
    expect(kubectl(["get", "sandboxes.agents.x-k8s.io", "-n", "openshell-system", "-l", "app.kubernetes.io/managed-by=openshell-driver-k8s-doctor", "-o", "name"]).trim()).toBe("");
    expect(check(run, "pod features")?.detail).toContain("user namespaces (spec.hostUsers: false)");
  });

  test("a supervisor image on a moving tag (the default :latest) is a warning naming the gateway's version as the fix, not a failure", () => {
    const run = doctor(sharedKubeconfig);
    expect(check(run, "supervisor image")).toEqual({
      name: "supervisor image",
      status: "WARN",
      detail: "ghcr.io/nvidia/openshell/supervisor:latest is a moving tag: sandboxes started at different times can run different supervisors, and one that no longer matches the gateway",
      fix: "--supervisor-image=<image>:<the gateway's version> (or @sha256:<digest>)",
    });
    expect(run.code).toBe(0);
  });

  test("a namespace enforcing baseline fails Pod Security with the kubectl label line, and exits 1", () => {
    kubectl(["create", "namespace", BASELINE_NS]);
    kubectl(["label", "namespace", BASELINE_NS, "pod-security.kubernetes.io/enforce=baseline"]);
    grantDriverRoleIn(BASELINE_NS);
    // As an admin would for --namespace: deploy/rbac.yaml's namespace read names openshell-system only.
    kubectl(["create", "clusterrole", `doctor-ns-${RUN}`, "--verb=get", "--resource=namespaces", `--resource-name=${BASELINE_NS}`]);
    kubectl(["create", "clusterrolebinding", `doctor-ns-${RUN}`, `--clusterrole=doctor-ns-${RUN}`, "--serviceaccount=openshell-system:openshell-driver"]);
    untilAllowed(serviceAccountUser("openshell-driver"), "get", `namespaces/${BASELINE_NS}`);
    const run = doctor(sharedKubeconfig, [`--namespace=${BASELINE_NS}`]);
    expect(run.code).toBe(1);
    expect(check(run, "pod security")?.status).toBe("FAIL");
    expect(run.text).toContain(`fix: kubectl label ns ${BASELINE_NS} pod-security.kubernetes.io/enforce=privileged --overwrite`);
    expect(run.json.checks.filter((c) => c.status === "FAIL").map((c) => c.name)).toEqual(["pod security"]);
  });

  test("an identity whose Role lacks delete on sandboxes fails that one rule, naming it and deploy/rbac.yaml", () => {
    const run = doctor(narrowIdentityKubeconfig());
    expect(run.code).toBe(1);
    expect(run.json.checks.filter((c) => c.status === "FAIL")).toEqual([
      {
        name: "rbac delete sandboxes.agents.x-k8s.io",
        status: "FAIL",
        detail: "may not delete sandboxes.agents.x-k8s.io in namespace openshell-system, which Sandbox CRs (cache, create, stop, delete) needs",
        fix: 'grant {apiGroups: ["agents.x-k8s.io"], resources: [sandboxes], verbs: [delete]} as deploy/rbac.yaml (Role openshell-driver) does in namespace openshell-system',
      },
    ]);
    expect(run.text).toContain("fix: grant {apiGroups: [\"agents.x-k8s.io\"], resources: [sandboxes], verbs: [delete]}");
  });

  test("bad flags exit 2 before anything is checked", () => {
    const proc = Bun.spawnSync([DRIVER_BIN, "doctor", "--output=yaml"], { stdout: "pipe", stderr: "pipe" });
    expect(proc.exitCode).toBe(2);
    expect(proc.stderr.toString()).toContain('invalid --output: "yaml"');
  });
});

describe("doctor on the OpenShift flavour", () => {
  let openshiftKubeconfig: string;

  beforeAll(() => {
    installPlatformFlavour("openshift");
    openshiftKubeconfig = driverKubeconfig("openshift");
  });

  afterAll(() => {
    revokePlatformRules("openshift");
    installPlatformFlavour("kubernetes");
  });

  test("a sandbox ServiceAccount without use of the SCC fails with the oc adm policy line", () => {
    const run = doctor(openshiftKubeconfig, ["--platform=openshift", `--service-account-name=${UNGRANTED_SA}`]);
    expect(run.code).toBe(1);
    expect(check(run, "platform")?.detail).toStartWith("openshift");
    expect(check(run, "scc")?.status).toBe("PASS");
    expect(check(run, "scc use")).toMatchObject({ status: "FAIL", fix: `oc adm policy add-scc-to-user openshell-sandbox -z ${UNGRANTED_SA} -n openshell-system` });
    expect(run.text).toContain(`fix: oc adm policy add-scc-to-user openshell-sandbox -z ${UNGRANTED_SA} -n openshell-system`);
  });
});
