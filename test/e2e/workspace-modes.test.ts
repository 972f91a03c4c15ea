// e2e tier: managed and operator workspace modes, each driver running as exactly that mode's
// least-privileged identity (deploy/rbac-managed.yaml, deploy/rbac-operator.yaml).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { join } from "node:path";
import { connectClient } from "../support/clients";
import { clusterState, DRIVER_IDENTITIES, driverKubeconfig, eventually, kubectl, kubectlJson, serviceAccountUser, untilAllowed } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { CLUSTER_DIR } from "../support/paths";
import { sandboxRequest, uniqueName } from "../support/requests";
import { WatchRecorder, condition } from "../support/watch-recorder";

const DRIVER_NS = "openshell-system";
const RUN = Date.now().toString(36);
const MANAGED_GW = `wm-${RUN}`;
const OPERATOR_GW = `wo-${RUN}`;
const PULL_SECRET = `wm-regcred-${RUN}`;
const TLS_SECRET = `wm-client-tls-${RUN}`;
const SANDBOX_SA = "openshell-sandbox";
/** Namespaces this file creates (directly or through a driver), removed at the end. */
const namespaces = new Set<string>();

const managedNamespaceOf = (workspace: string) => `openshell-${MANAGED_GW}-${workspace}`;

function apply(manifest: object): void {
  kubectl(["apply", "-f", "-"], { input: JSON.stringify(manifest) });
}

function namespace(name: string): any | undefined {
  const out = kubectl(["get", "namespace", name, "-o", "json", "--ignore-not-found"]);
  return out.trim() === "" ? undefined : JSON.parse(out);
}

function sandboxesIn(ns: string, sandboxId: string): any[] {
  return kubectlJson<{ items: any[] }>(["get", "sandboxes.agents.x-k8s.io", "-n", ns, "-l", `openshell.ai/sandbox-id=${sandboxId}`]).items;
}

function podsIn(ns: string, sandboxId: string): any[] {
  return kubectlJson<{ items: any[] }>(["get", "pods", "-n", ns, "-l", `openshell.ai/sandbox-id=${sandboxId}`]).items;
}

async function rejection(call: Promise<unknown>): Promise<ConnectError> {
  return ConnectError.from(await call.then(() => new Error("the call was accepted")).catch((e: unknown) => e));
}

beforeAll(() => {
  apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: PULL_SECRET, namespace: DRIVER_NS },
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": Buffer.from('{"auths":{"registry.example.test":{"auth":"dTpw"}}}').toString("base64") },
  });
  apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: TLS_SECRET, namespace: DRIVER_NS },
    type: "kubernetes.io/tls",
    data: { "ca.crt": "Y2E=", "tls.crt": "Y2VydA==", "tls.key": "a2V5" },
  });
});

afterAll(() => {
  for (const gw of [MANAGED_GW, OPERATOR_GW]) {
    kubectl(["delete", "sandboxes.agents.x-k8s.io", "-A", "-l", `openshell.ai/gateway-id=${gw}`, "--wait=false"], { allowFailure: true });
  }
  kubectl(["delete", "secret", "-n", DRIVER_NS, PULL_SECRET, TLS_SECRET, "--ignore-not-found"], { allowFailure: true });
  if (namespaces.size > 0) kubectl(["delete", "namespace", ...namespaces, "--ignore-not-found", "--wait=false"], { allowFailure: true });
});

describe("managed workspace mode (driver as deploy/rbac-managed.yaml)", () => {
  let driver: DriverProcess;
  let watch: WatchRecorder;
  const client = () => connectClient(driver.socket);
  const workspace = "team";
  const ns = managedNamespaceOf(workspace);
  const sandbox = uniqueName("mgd");

  beforeAll(async () => {
    namespaces.add(ns);
    const kubeconfig = driverKubeconfig("managed");
    // The admission policy's parameter names the one gateway whose namespaces the identity may write.
    kubectl(["patch", "configmap", "openshell-driver-managed-admission", "-n", DRIVER_NS, "--type=merge", "-p", JSON.stringify({ data: { gatewayId: MANAGED_GW } })]);
    driver = await startDriver({
      kubeconfig,
      gatewayId: MANAGED_GW,
      args: [
        "--workspace-mode=managed",
        `--image-pull-secrets=${PULL_SECRET}`,
        `--client-tls-secret-name=${TLS_SECRET}`,
        `--service-account-name=${SANDBOX_SA}`,
        "--managed-ssh-ingress-enabled=true",
        `--managed-ssh-gateway-namespace=${DRIVER_NS}`,
        "--managed-ssh-gateway-pod-selector=app.kubernetes.io/name=openshell",
      ],
    });
    watch = new WatchRecorder(driver.socket);
  });

  afterAll(async () => {
    await watch?.close();
    await driver?.stop();
  });

  test("EnsureWorkspace creates the workspace namespace with ownership labels, the sandbox service account, copies of the Secrets and the SSH NetworkPolicy", async () => {
    await client().ensureWorkspace({ workspace });
    const created = namespace(ns);
    expect(created.metadata.labels).toMatchObject({
      "openshell.ai/managed-by": "openshell",
      "openshell.ai/gateway-id": MANAGED_GW,
      "openshell.ai/sandbox-workspace": workspace,
    });
    expect(kubectlJson(["get", "serviceaccount", "-n", ns, SANDBOX_SA]).metadata.name).toBe(SANDBOX_SA);
    for (const secret of [PULL_SECRET, TLS_SECRET]) {
      const copy = kubectlJson(["get", "secret", "-n", ns, secret]);
      const source = kubectlJson(["get", "secret", "-n", DRIVER_NS, secret]);
      expect({ type: copy.type, data: copy.data }).toEqual({ type: source.type, data: source.data });
    }
    const policy = kubectlJson(["get", "networkpolicy", "-n", ns, "openshell-sandbox-ssh"]);
    expect(policy.spec.ingress[0].ports).toEqual([{ port: 2222, protocol: "TCP" }]);
    expect(policy.spec.ingress[0].from[0].namespaceSelector.matchLabels).toEqual({ "kubernetes.io/metadata.name": DRIVER_NS });

    await client().ensureWorkspace({ workspace }); // idempotent
  });

  test("CreateSandbox puts the CR in the workspace namespace under its bare name; the pod runs, and Get, List and Watch report that namespace", async () => {
    await client().createSandbox({ sandbox: sandboxRequest({ ...sandbox, workspace }) });
    const [cr] = sandboxesIn(ns, sandbox.id);
    expect(cr.metadata.name).toBe(sandbox.name);
    expect(sandboxesIn(DRIVER_NS, sandbox.id)).toEqual([]);

    const ready = await watch.waitForSnapshot("Ready=True on the watch", sandbox.id, (s) => condition(s, "Ready")?.status === "True");
    expect(ready.namespace).toBe(ns);
    const pod = podsIn(ns, sandbox.id)[0];
    expect(ready.status!.instanceId).toBe(pod.metadata.name);
    expect(pod.spec.serviceAccountName).toBe(SANDBOX_SA);
    expect(pod.spec.imagePullSecrets).toEqual([{ name: PULL_SECRET }]);

    expect((await client().getSandbox({ sandboxId: sandbox.id })).sandbox!.namespace).toBe(ns);
    expect((await client().listSandboxes({})).sandboxes.map((s) => s.id)).toContain(sandbox.id);
  });

  test("the Kubernetes events of a workspace namespace reach the watch as platform events", async () => {
    const events = await eventually("a Scheduled platform event", () => {
      const evs = watch.platformEventsOf(sandbox.id);
      return evs.some((e) => e.reason === "Scheduled") ? evs : undefined;
    });
    expect(events.find((e) => e.reason === "Scheduled")!.metadata.namespace).toBe(ns);
  });

  test("StopSandbox and StartSandbox find the sandbox in its workspace namespace", async () => {
    await client().stopSandbox({ sandboxId: sandbox.id });
    expect(podsIn(ns, sandbox.id)).toEqual([]);
    await client().startSandbox({ sandboxId: sandbox.id });
    await eventually("Ready=True after start", async () => {
      const s = (await client().getSandbox({ sandboxId: sandbox.id })).sandbox!;
      return condition(s, "Ready")?.status === "True" && podsIn(ns, sandbox.id).length === 1 ? s : undefined;
    });
  });

  test("DeleteSandbox and then DeleteWorkspace delete the sandbox and the workspace namespace", async () => {
    expect((await client().deleteSandbox({ sandboxId: sandbox.id })).deleted).toBe(true);
    await watch.waitForDeleted(sandbox.id);
    await client().deleteWorkspace({ workspace });
    await eventually("the namespace gone or terminating", () => {
      const current = namespace(ns);
      return current === undefined || current.metadata.deletionTimestamp ? true : undefined;
    });
    await client().deleteWorkspace({ workspace }); // already gone or going: still OK
  });

  test("a same-named namespace the gateway does not own is refused by EnsureWorkspace and CreateSandbox and survives DeleteWorkspace", async () => {
    const foreignWorkspace = "foreign";
    const foreign = managedNamespaceOf(foreignWorkspace);
    namespaces.add(foreign);
    apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: foreign, labels: { team: "someone-else" } } });

    const ensure = await rejection(client().ensureWorkspace({ workspace: foreignWorkspace }));
    expect(ensure.code).toBe(Code.FailedPrecondition);
    expect(ensure.rawMessage).toContain(`namespace ${foreign} exists but is not owned by this gateway`);
    const create = await rejection(client().createSandbox({ sandbox: sandboxRequest({ ...uniqueName("frgn"), workspace: foreignWorkspace }) }));
    expect(create.code).toBe(Code.FailedPrecondition);
    expect(create.rawMessage).toStartWith("sandbox.workspace: ");

    await client().deleteWorkspace({ workspace: foreignWorkspace });
    const survivor = namespace(foreign);
    expect(survivor.metadata.deletionTimestamp).toBeUndefined();
    expect(kubectl(["get", "serviceaccounts", "-n", foreign, "-o", "name"])).not.toContain(SANDBOX_SA);
  });

  test("the managed-mode identity cannot write into a namespace not labelled as OpenShell's (admission policy)", () => {
    const { binDir } = clusterState();
    const proc = Bun.spawnSync(
      [join(binDir, "kubectl"), "--kubeconfig", join(CLUSTER_DIR, DRIVER_IDENTITIES.managed.kubeconfig), "create", "secret", "generic", `probe-${RUN}`, "-n", "default", "--from-literal=k=v"],
      { stdout: "pipe", stderr: "pipe" },
    );
    expect(proc.exitCode).not.toBe(0);
    expect(proc.stderr.toString()).toContain("openshell-driver-managed-namespaces");
  });
});

describe("operator workspace mode (driver as deploy/rbac-operator.yaml)", () => {
  let driver: DriverProcess;
  const client = () => connectClient(driver.socket);
  const workspace = `wo-team-${RUN}`;

  beforeAll(async () => {
    driver = await startDriver({
      kubeconfig: driverKubeconfig("operator"),
      gatewayId: OPERATOR_GW,
      args: ["--workspace-mode=operator", `--client-tls-secret-name=${TLS_SECRET}`],
    });
  });

  afterAll(async () => {
    await driver?.stop();
  });

  test("a workspace whose namespace does not exist is FAILED_PRECONDITION naming it, for EnsureWorkspace, ValidateSandboxCreate and CreateSandbox", async () => {
    const missing = `wo-missing-${RUN}`;
    const request = sandboxRequest({ ...uniqueName("opm"), workspace: missing });
    for (const call of [
      () => client().ensureWorkspace({ workspace: missing }),
      () => client().validateSandboxCreate({ sandbox: request }),
      () => client().createSandbox({ sandbox: request }),
    ]) {
      const err = await rejection(call());
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(err.rawMessage).toContain(`workspace namespace "${missing}" does not exist`);
    }
    expect(namespace(missing)).toBeUndefined();
  });

  test("in a namespace the operator created and granted, a sandbox runs and is seen by Get and List; DeleteWorkspace leaves the namespace", async () => {
    namespaces.add(workspace);
    apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: workspace } });
    apply({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "openshell-driver", namespace: workspace },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "openshell-driver-operator-workspace" },
      subjects: [{ kind: "ServiceAccount", name: DRIVER_IDENTITIES.operator.serviceAccount, namespace: DRIVER_NS }],
    });
    untilAllowed(serviceAccountUser(DRIVER_IDENTITIES.operator.serviceAccount, DRIVER_NS), "create", "secrets", workspace);

    await client().ensureWorkspace({ workspace });
    expect(kubectlJson(["get", "secret", "-n", workspace, TLS_SECRET]).type).toBe("kubernetes.io/tls");

    const sandbox = uniqueName("opr");
    await client().createSandbox({ sandbox: sandboxRequest({ ...sandbox, workspace }) });
    expect(sandboxesIn(workspace, sandbox.id)[0].metadata.name).toBe(sandbox.name);
    const ready = await eventually("Ready=True", async () => {
      const s = (await client().getSandbox({ sandboxId: sandbox.id })).sandbox!;
      return condition(s, "Ready")?.status === "True" ? s : undefined;
    });
    expect(ready.namespace).toBe(workspace);
    expect((await client().listSandboxes({})).sandboxes.map((s) => s.id)).toEqual([sandbox.id]);

    expect((await client().deleteSandbox({ sandboxId: sandbox.id })).deleted).toBe(true);
    await client().deleteWorkspace({ workspace });
    expect(namespace(workspace).metadata.deletionTimestamp).toBeUndefined();
  });
});
