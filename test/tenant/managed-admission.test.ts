// tenant tier: managed mode's cluster-wide rights are confined by the ValidatingAdmissionPolicy of
// deploy/rbac-managed.yaml, tried as that identity with server-side dry runs (nothing is stored):
// writes outside this gateway's workspace namespaces, exposure objects included, are refused; and
// an identity the policy does not confine is caught by `doctor` and by `serve`, which does not
// become ready.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clusterState, driverKubeconfig, kubectl, serviceAccountUser, untilAllowed } from "../support/cluster";
import { startDriver } from "../support/driver-process";
import { CLUSTER_DIR, DRIVER_BIN, REPO } from "../support/paths";

const DRIVER_NS = "openshell-system";
const RUN = Date.now().toString(36).slice(-6);
const GATEWAY_ID = `twm-${RUN}`;
const OWN = `openshell-${GATEWAY_ID}-team`;
const FOREIGN = `openshell-twx-${RUN}-team`;
const UNFENCED_SA = `tw-unfenced-${RUN}`;
const work = mkdtempSync(join(tmpdir(), "tenant-admission-"));
let managedKubeconfig: string;

function asManaged(args: string[]): { code: number; stderr: string } {
  const proc = Bun.spawnSync([join(clusterState().binDir, "kubectl"), "--kubeconfig", managedKubeconfig, ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: proc.exitCode ?? -1, stderr: proc.stderr.toString() };
}

function serviceIn(namespace: string): string {
  return JSON.stringify({ apiVersion: "v1", kind: "Service", metadata: { name: `tw-probe-${RUN}`, namespace }, spec: { ports: [{ port: 80 }] } });
}

function dryRunCreate(manifest: string): { code: number; stderr: string } {
  const file = join(work, `m-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, manifest);
  return asManaged(["create", "--dry-run=server", "-f", file]);
}

const EXPOSE_ROLE = `tw-expose-${RUN}`;

beforeAll(() => {
  managedKubeconfig = driverKubeconfig("managed");
  // What managed mode on Kyma or OpenShift adds: exposure objects, granted cluster-wide like the rest.
  kubectl(["apply", "-f", "-"], {
    input: JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      items: [
        { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: EXPOSE_ROLE }, rules: [{ apiGroups: [""], resources: ["services"], verbs: ["create"] }] },
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRoleBinding",
          metadata: { name: EXPOSE_ROLE },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: EXPOSE_ROLE },
          subjects: [{ kind: "ServiceAccount", name: "openshell-driver-managed", namespace: DRIVER_NS }],
        },
      ],
    }),
  });
  untilAllowed(serviceAccountUser("openshell-driver-managed"), "create", "services", "default");
  kubectl(["patch", "configmap", "openshell-driver-managed-admission", "-n", DRIVER_NS, "--type=merge", "-p", JSON.stringify({ data: { gatewayId: GATEWAY_ID } })]);
  for (const [name, gateway] of [
    [OWN, GATEWAY_ID],
    [FOREIGN, `twx-${RUN}`],
  ] as const) {
    kubectl(["apply", "-f", "-"], {
      input: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels: { "openshell.ai/managed-by": "openshell", "openshell.ai/gateway-id": gateway } } }),
    });
  }
});

afterAll(() => {
  kubectl(["delete", "namespace", OWN, FOREIGN, "--ignore-not-found", "--wait=false"], { allowFailure: true });
  kubectl(["delete", "clusterrolebinding", UNFENCED_SA, EXPOSE_ROLE, "--ignore-not-found"], { allowFailure: true });
  kubectl(["delete", "clusterrole", EXPOSE_ROLE, "--ignore-not-found"], { allowFailure: true });
  kubectl(["delete", "serviceaccount", "-n", DRIVER_NS, UNFENCED_SA, "--ignore-not-found"], { allowFailure: true });
  rmSync(work, { recursive: true, force: true });
});

describe("the managed identity writes only into this gateway's workspace namespaces", () => {
  test("an exposure Service in a namespace that is not a workspace's is refused by the policy", () => {
    const out = dryRunCreate(serviceIn("default"));
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain("openshell-driver-managed-namespaces");
  });

  test("a Service in another gateway's workspace namespace is refused: the gateway id is checked, not only managed-by", () => {
    const out = dryRunCreate(serviceIn(FOREIGN));
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain(`openshell.ai/gateway-id=${GATEWAY_ID}`);
  });

  test("a Service in this gateway's own workspace namespace is admitted", () => {
    expect(dryRunCreate(serviceIn(OWN))).toMatchObject({ code: 0 });
  });

  test("a Secret in another gateway's workspace namespace is refused; in this gateway's, admitted", () => {
    const secretIn = (namespace: string) => JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: `tw-probe-${RUN}`, namespace } });
    const foreign = dryRunCreate(secretIn(FOREIGN));
    expect(foreign.code).not.toBe(0);
    expect(foreign.stderr).toContain("openshell-driver-managed-namespaces");
    expect(dryRunCreate(secretIn(OWN))).toMatchObject({ code: 0 });
  });

  test("deleting another gateway's workspace namespace is refused", () => {
    const out = asManaged(["delete", "namespace", FOREIGN, "--dry-run=server"]);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain("openshell-driver-managed-namespaces");
  });
});

describe("an identity the policy does not confine is caught", () => {
  let unfenced: string;

  beforeAll(() => {
    // The managed ClusterRole bound to a ServiceAccount of another name: the policy matches none of its writes.
    const manifest = join(work, "unfenced.json");
    const subject = [{ kind: "ServiceAccount", name: UNFENCED_SA, namespace: DRIVER_NS }];
    writeFileSync(
      manifest,
      JSON.stringify({
        apiVersion: "v1",
        kind: "List",
        items: [
          { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: UNFENCED_SA, namespace: DRIVER_NS } },
          {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRoleBinding",
            metadata: { name: UNFENCED_SA },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "openshell-driver-managed" },
            subjects: subject,
          },
        ],
      }),
    );
    unfenced = join(CLUSTER_DIR, `tenant-unfenced-${RUN}.kubeconfig`);
    const proc = Bun.spawnSync(["bash", join(REPO, "cluster/driver-kubeconfig.sh"), UNFENCED_SA, manifest, unfenced], { stdout: "pipe", stderr: "pipe" });
    if (proc.exitCode !== 0) throw new Error(`driver-kubeconfig.sh failed: ${proc.stderr.toString()}`);
    untilAllowed(serviceAccountUser(UNFENCED_SA), "create", "secrets", DRIVER_NS);
  });

  test("doctor fails the admission fence check and names the manifest to apply", () => {
    const proc = Bun.spawnSync(
      [DRIVER_BIN, "doctor", `--kubeconfig=${unfenced}`, "--workspace-mode=managed", `--gateway-id=${GATEWAY_ID}`, `--socket=${join(work, "sock", "d.sock")}`, "--output=json"],
      { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: work } },
    );
    const doc = JSON.parse(proc.stdout.toString()) as { checks: { name: string; status: string; fix?: string }[] };
    const fence = doc.checks.find((c) => c.name === "admission fence");
    expect(fence?.status).toBe("FAIL");
    expect(fence?.fix).toContain("deploy/rbac-managed.yaml");
    expect(proc.exitCode).toBe(1);
  });

  test("doctor passes it for the confined managed identity", () => {
    const proc = Bun.spawnSync(
      [DRIVER_BIN, "doctor", `--kubeconfig=${managedKubeconfig}`, "--workspace-mode=managed", `--gateway-id=${GATEWAY_ID}`, `--socket=${join(work, "sock", "d.sock")}`, "--output=json"],
      { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: work } },
    );
    const doc = JSON.parse(proc.stdout.toString()) as { checks: { name: string; status: string }[] };
    expect(doc.checks.find((c) => c.name === "admission fence")?.status).toBe("PASS");
  });

  test("serve does not become ready, and says why", async () => {
    const driver = await startDriver({ kubeconfig: unfenced, gatewayId: GATEWAY_ID, waitFor: "socket", args: ["--workspace-mode=managed"] });
    try {
      const deadline = Date.now() + 15_000;
      while (!driver.logs().includes("was admitted") && Date.now() < deadline) await Bun.sleep(200);
      expect(driver.logs()).toContain("was admitted");
      expect((await fetch(`${driver.healthUrl}/readyz`)).status).toBe(503);
    } finally {
      await driver.stop();
    }
  });
});
