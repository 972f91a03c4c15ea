// e2e tier: every pod option upstream's driver offers, all at once, through the real API server's
// validation and Pod Security admission, the controller and the scheduler. A field the API server
// did not know, or a value it refuses, would leave the sandbox without a running pod.
import { afterAll, describe, expect, test } from "bun:test";
import { connectClient } from "../support/clients";
import { clusterState, driverKubeconfig, eventually, k8sMinor, kubectl, kubectlJson, testWhere } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { sandboxRequest, TEST_IMAGE, uniqueName } from "../support/requests";

const NS = "openshell-system";
// User namespaces are on by default from 1.33, image volumes from 1.35 (test/e2e/pod-features.test.ts covers the refusals).
const keepsUserNamespacesAndImageVolumes = testWhere(k8sMinor() >= 35, `needs user namespaces (1.33+) and image volumes (1.35+) on by default; this cluster runs ${clusterState().k8sVersion}`);
const GATEWAY_ID = `e2e-opt-${Date.now().toString(36)}`;
const TLS_SECRET = `${GATEWAY_ID}-client-tls`;
const PROXY_SECRET = `${GATEWAY_ID}-proxy-auth`;
const drivers: DriverProcess[] = [];

async function driverWith(args: string[]): Promise<DriverProcess> {
  const driver = await startDriver({ kubeconfig: driverKubeconfig(), gatewayId: GATEWAY_ID, args });
  drivers.push(driver);
  return driver;
}

function runningPod(sandboxId: string): Promise<any> {
  return eventually(`the pod of ${sandboxId} Running`, () =>
    kubectlJson<{ items: any[] }>(["get", "pods", "-n", NS, "-l", `openshell.ai/sandbox-id=${sandboxId}`]).items.find(
      (p) => p.status?.phase === "Running",
    ),
  );
}

const container = (pod: any, name: string) => [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c: any) => c.name === name);
const volume = (pod: any, name: string) => pod.spec.volumes.find((v: any) => v.name === name);

afterAll(async () => {
  kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/gateway-id=${GATEWAY_ID}`, "--wait=false"], { allowFailure: true });
  kubectl(["delete", "secret", "-n", NS, TLS_SECRET, PROXY_SECRET, "--ignore-not-found"], { allowFailure: true });
  await Promise.all(drivers.map((d) => d.stop()));
});

describe("every pod option is accepted by a real API server and the pod runs", () => {
  test("sidecar topology with client TLS, upstream proxy credentials, AppArmor, host aliases and a short token", async () => {
    kubectl(["create", "secret", "generic", TLS_SECRET, "-n", NS, "--from-literal=ca.crt=ca", "--from-literal=tls.crt=crt", "--from-literal=tls.key=key"]);
    kubectl(["create", "secret", "generic", PROXY_SECRET, "-n", NS, "--from-literal=credentials=user:pass"]);
    const driver = await driverWith([
      "--supervisor-topology=sidecar",
      "--supervisor-image-pull-policy=IfNotPresent",
      `--client-tls-secret-name=${TLS_SECRET}`,
      "--https-proxy=http://proxy.corp.example:3128",
      "--no-proxy=localhost,.svc",
      `--proxy-auth-secret-name=${PROXY_SECRET}`,
      "--proxy-auth-secret-key=credentials",
      "--proxy-auth-allow-insecure",
      "--app-armor-profile=Unconfined",
      "--host-gateway-ip=10.0.0.1",
      "--sa-token-ttl-secs=600",
      "--sandbox-uid=2000",
    ]);
    const { id, name } = uniqueName("sidecar");
    await connectClient(driver.socket).createSandbox({ sandbox: sandboxRequest({ id, name }) });
    const pod = await runningPod(id);

    expect(pod.spec.shareProcessNamespace).toBe(true);
    expect(pod.spec.hostAliases).toEqual([{ ip: "10.0.0.1", hostnames: ["host.docker.internal", "host.openshell.internal"] }]);
    expect(pod.spec.initContainers.map((c: any) => c.name)).toEqual(["openshell-supervisor-install", "openshell-network-init", "workspace-init"]);
    expect(pod.spec.containers.map((c: any) => c.name)).toEqual(["agent", "openshell-supervisor-network"]);
    // The agent is the sandbox user with nothing to escalate to: what least-privilege policies admit.
    expect(container(pod, "agent").securityContext).toMatchObject({
      runAsUser: 2000,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      appArmorProfile: { type: "Unconfined" },
    });
    expect(container(pod, "openshell-supervisor-network").command).toContain("--upstream-proxy");
    expect(volume(pod, "openshell-client-tls").secret).toMatchObject({ secretName: TLS_SECRET, defaultMode: 0o440 });
    expect(volume(pod, "openshell-upstream-proxy-auth").secret.items).toEqual([{ key: "credentials", path: "upstream-proxy" }]);
    expect(volume(pod, "openshell-sa-token").projected.sources[0].serviceAccountToken).toEqual({
      audience: "openshell-gateway",
      expirationSeconds: 600,
      path: "token",
    });
    // Gateway credentials stay with the network supervisor, never in the agent container.
    const agentMounts = container(pod, "agent").volumeMounts.map((m: any) => m.name);
    expect(agentMounts).not.toContain("openshell-client-tls");
    expect(agentMounts).not.toContain("openshell-sa-token");
  });

  keepsUserNamespacesAndImageVolumes("combined topology in a user namespace gets the capabilities to switch users, and the image-volume supervisor its pull policy", async () => {
    const driver = await driverWith(["--enable-user-namespaces", "--supervisor-sideload=image-volume", "--supervisor-image-pull-policy=IfNotPresent"]);
    const { id, name } = uniqueName("userns");
    await connectClient(driver.socket).createSandbox({
      sandbox: sandboxRequest({ id, name, spec: { template: { image: TEST_IMAGE, agentSocketPath: "/run/agent/agent.sock" } } }),
    });
    const pod = await runningPod(id);

    expect(pod.spec.hostUsers).toBe(false);
    expect(container(pod, "agent").securityContext.capabilities.add).toEqual([
      "SYS_ADMIN",
      "NET_ADMIN",
      "SYS_PTRACE",
      "SYSLOG",
      "SETUID",
      "SETGID",
      "DAC_READ_SEARCH",
    ]);
    expect(volume(pod, "openshell-supervisor-bin").image).toEqual({
      reference: "ghcr.io/nvidia/openshell/supervisor:latest",
      pullPolicy: "IfNotPresent",
    });
  });
});
