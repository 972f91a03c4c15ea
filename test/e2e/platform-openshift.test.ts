// e2e tier, OpenShift flavour of the local control plane (cluster/platform.sh openshift: the SCC,
// Route and ClusterVersion APIs, the default SCCs, the shipped openshell-sandbox SCC and the
// namespace's UID/GID/MCS annotations). SCC admission is OpenShift's own plugin and does not run
// here: what is proved is what the driver renders and refuses, and that the API server accepts it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectClient } from "../support/clients";
import { driverKubeconfig, eventually, installPlatformFlavour, kubectl, kubectlGetOptional, kubectlJson, revokePlatformRules } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { sandboxRequest, uniqueName } from "../support/requests";
import { condition } from "../support/watch-recorder";

const NS = "openshell-system";
const SANDBOX_SA = "openshell-sandbox";
const RUN = Date.now().toString(36);
const GATEWAY_ID = `e2e-ocp-${RUN}`;
/** An admin's own SCC: the shipped one without the capabilities user-namespaced sandboxes add. */
const NARROW_SCC = `openshell-narrow-${RUN}`;

let driver: DriverProcess;
let narrow: DriverProcess;

function podsOf(sandboxId: string): any[] {
  return kubectlJson<{ items: any[] }>(["get", "pods", "-n", NS, "-l", `openshell.ai/sandbox-id=${sandboxId}`]).items;
}

function crOf(sandboxId: string): any | undefined {
  return kubectlJson<{ items: any[] }>(["get", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/sandbox-id=${sandboxId}`]).items[0];
}

beforeAll(async () => {
  installPlatformFlavour("openshift");
  kubectl(["apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: SANDBOX_SA, namespace: NS } }) });
  const shipped = kubectlJson(["get", "securitycontextconstraints.security.openshift.io", "openshell-sandbox"]);
  const userNamespaceCaps = ["SETUID", "SETGID", "DAC_READ_SEARCH"];
  kubectl(["create", "-f", "-"], {
    input: JSON.stringify({
      ...shipped,
      metadata: { name: NARROW_SCC },
      allowedCapabilities: shipped.allowedCapabilities.filter((c: string) => !userNamespaceCaps.includes(c)),
    }),
  });
  // kubectl's `create role` only knows built-in verbs, and `use` is OpenShift's.
  kubectl(["apply", "-f", "-"], {
    input: JSON.stringify({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: NARROW_SCC, namespace: NS },
      rules: [{ apiGroups: ["security.openshift.io"], resources: ["securitycontextconstraints"], resourceNames: [NARROW_SCC], verbs: ["use"] }],
    }),
  });
  kubectl(["create", "rolebinding", NARROW_SCC, "-n", NS, `--role=${NARROW_SCC}`, `--serviceaccount=${NS}:${SANDBOX_SA}`]);
  // The driver may read only the SCC its manifest names; the narrow one is this test's addition.
  kubectl(["create", "clusterrole", NARROW_SCC, "--verb=get", "--resource=securitycontextconstraints.security.openshift.io", `--resource-name=${NARROW_SCC}`]);
  kubectl(["create", "clusterrolebinding", NARROW_SCC, `--clusterrole=${NARROW_SCC}`, `--serviceaccount=${NS}:openshell-driver`]);

  const kubeconfig = driverKubeconfig("openshift");
  const common = [`--service-account-name=${SANDBOX_SA}`, "--platform=auto"];
  [driver, narrow] = await Promise.all([
    startDriver({ kubeconfig, gatewayId: GATEWAY_ID, args: [...common, "--expose=route", "--route-domain=apps.ocp.example.test"] }),
    startDriver({ kubeconfig, gatewayId: `${GATEWAY_ID}-n`, args: [...common, `--openshift-scc=${NARROW_SCC}`] }),
  ]);
});

afterAll(async () => {
  for (const gateway of [GATEWAY_ID, `${GATEWAY_ID}-n`]) {
    kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/gateway-id=${gateway}`, "--wait=false"], { allowFailure: true });
  }
  await Promise.all([driver?.stop(), narrow?.stop()]);
  for (const kind of ["rolebinding", "role"]) kubectl(["delete", kind, NARROW_SCC, "-n", NS, "--ignore-not-found"], { allowFailure: true });
  for (const kind of ["clusterrolebinding", "clusterrole", "securitycontextconstraints.security.openshift.io"]) {
    kubectl(["delete", kind, NARROW_SCC, "--ignore-not-found"], { allowFailure: true });
  }
  revokePlatformRules("openshift");
  installPlatformFlavour("kubernetes");
});

describe("on the OpenShift flavour", () => {
  test("a missing SCC, which only the operator can fix, answers every call FAILED_PRECONDITION with the fix, not UNAVAILABLE", async () => {
    const missing = `openshell-missing-${RUN}`;
    // The driver may read only the SCC its manifest names; let it see that this one is absent (404, not 403).
    kubectl(["create", "clusterrole", missing, "--verb=get", "--resource=securitycontextconstraints.security.openshift.io", `--resource-name=${missing}`]);
    kubectl(["create", "clusterrolebinding", missing, `--clusterrole=${missing}`, `--serviceaccount=${NS}:openshell-driver`]);
    const refused = await startDriver({
      kubeconfig: driverKubeconfig("openshift"),
      gatewayId: `${GATEWAY_ID}-m`,
      args: [`--service-account-name=${SANDBOX_SA}`, "--platform=auto", `--openshift-scc=${missing}`],
      waitFor: "socket",
    });
    try {
      const client = connectClient(refused.socket);
      const err = await eventually("FAILED_PRECONDITION", async () => {
        const e = ConnectError.from(await client.listSandboxes({}).then(() => new Error("served"), (x: unknown) => x));
        return e.code === Code.FailedPrecondition ? e : undefined;
      });
      expect(err.rawMessage).toBe(
        `the driver refuses to serve this cluster: SCC "${missing}" (--openshift-scc) does not exist; fix: oc apply -f deploy/openshift/sandbox-scc.yaml, or name an existing SCC with --openshift-scc`,
      );
    } finally {
      await refused.stop();
      kubectl(["delete", "clusterrolebinding,clusterrole", missing, "--ignore-not-found"], { allowFailure: true });
    }
  });

  test("serve --platform=auto detects OpenShift and its version, and says so in /readyz and the platform metric", async () => {
    const readyz = await (await fetch(`${driver.healthUrl}/readyz`)).text();
    expect(readyz).toStartWith("ok\n");
    expect(readyz).toContain("platform: openshift 4.16.3 (");
    const metrics = await (await fetch(`${driver.healthUrl}/metrics`)).text();
    expect(metrics).toContain('openshell_driver_platform_info{platform="openshift",version="4.16.3"} 1');
  });

  test("a sandbox runs as the namespace's UID range with its SELinux level, pinned to the SCC; its Route and Service go with it", async () => {
    const { id, name } = uniqueName("ocp");
    const client = connectClient(driver.socket);
    await client.validateSandboxCreate({ sandbox: sandboxRequest({ id, name }) });
    await client.createSandbox({ sandbox: sandboxRequest({ id, name }) });
    await eventually("Ready=True through the driver", async () => {
      const s = (await client.getSandbox({ sandboxId: id })).sandbox!;
      return condition(s, "Ready")?.status === "True" ? s : undefined;
    }, 120_000);

    const pod = podsOf(id)[0];
    expect(pod.metadata.annotations["openshift.io/required-scc"]).toBe("openshell-sandbox");
    // Combined topology: no fsGroup, and the shipped SCC (fsGroup RunAsAny) injects none, so kubelet
    // never regroups the client-TLS key to the workload's group.
    expect(pod.spec.securityContext.fsGroup).toBeUndefined();
    expect(pod.spec.securityContext.seLinuxOptions).toEqual({ level: "s0:c26,c10" });
    const env = Object.fromEntries(pod.spec.containers.find((c: any) => c.name === "agent").env.map((e: any) => [e.name, e.value]));
    expect({ uid: env.OPENSHELL_SANDBOX_UID, gid: env.OPENSHELL_SANDBOX_GID }).toEqual({ uid: "1000680000", gid: "1000680000" });

    const cr = crOf(id);
    const exposed = `sb-${cr.metadata.name}`;
    const owner = { apiVersion: cr.apiVersion, kind: "Sandbox", name: cr.metadata.name, uid: cr.metadata.uid };
    const route = await eventually<any>("the Route", () => kubectlGetOptional(["routes.route.openshift.io", exposed, "-n", NS]));
    expect(route.spec.host).toBe(`${exposed}.apps.ocp.example.test`);
    expect(route.spec.to).toMatchObject({ kind: "Service", name: exposed });
    expect(route.spec.tls.termination).toBe("edge");
    expect(route.metadata.ownerReferences).toEqual([owner]);
    const service = kubectlGetOptional(["service", exposed, "-n", NS]);
    expect(service.spec.selector["openshell.ai/sandbox-id"]).toBe(id);
    expect(service.metadata.ownerReferences).toEqual([owner]);

    await client.deleteSandbox({ sandboxId: id });
    await eventually("the CR, its pod, Route and Service gone", () =>
      !crOf(id) && podsOf(id).length === 0 && !kubectlGetOptional(["routes.route.openshift.io", exposed, "-n", NS]) && !kubectlGetOptional(["service", exposed, "-n", NS])
        ? true
        : undefined,
    120_000);
  });

  test("a sandbox whose pod needs more than the SCC allows is refused by ValidateSandboxCreate with FAILED_PRECONDITION naming the field, and nothing is created", async () => {
    const { id, name } = uniqueName("ocp-userns");
    const client = connectClient(narrow.socket);
    const request = sandboxRequest({
      id,
      name,
      spec: { template: { image: "registry.example.test/openshell/sandbox:1.0", platformConfig: { host_users: false } } },
    });
    const err = await client.validateSandboxCreate({ sandbox: request }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((err as ConnectError).rawMessage).toStartWith("spec.containers[agent].securityContext.capabilities.add[SETUID]:");
    expect((err as ConnectError).rawMessage).toContain(NARROW_SCC);
    const created = await client.createSandbox({ sandbox: request }).catch((e: unknown) => e);
    expect((created as ConnectError).code).toBe(Code.FailedPrecondition);
    expect(crOf(id)).toBeUndefined();
  });

  test("without `use` of the SCC for the sandbox service account, ValidateSandboxCreate says which grant is missing and how to add it", async () => {
    kubectl(["delete", "rolebinding", NARROW_SCC, "-n", NS]);
    try {
      const { id, name } = uniqueName("ocp-nouse");
      const client = connectClient(narrow.socket);
      // An allowed answer is cached for 30 s; a revoked grant shows once that has passed.
      const err = await eventually(
        "ValidateSandboxCreate refused",
        async () => {
          const e = await client.validateSandboxCreate({ sandbox: sandboxRequest({ id, name }) }).then(() => undefined, (e: unknown) => e);
          return e instanceof ConnectError ? e : undefined;
        },
        60_000,
      );
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(err.rawMessage).toContain(`oc adm policy add-scc-to-user ${NARROW_SCC} -z ${SANDBOX_SA} -n ${NS}`);
    } finally {
      kubectl(["create", "rolebinding", NARROW_SCC, "-n", NS, `--role=${NARROW_SCC}`, `--serviceaccount=${NS}:${SANDBOX_SA}`]);
    }
  });
});
