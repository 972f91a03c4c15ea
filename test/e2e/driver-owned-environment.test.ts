// e2e tier: the variables the supervisor trusts (its sandbox id, identity, gateway endpoint,
// telemetry and network switches) come from the driver. A user who sets them in the sandbox's
// environment must not reach the agent container the controller really runs.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connectClient } from "../support/clients";
import { driverKubeconfig, eventually, kubectl, kubectlJson } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { sandboxRequest, TEST_IMAGE, uniqueName } from "../support/requests";

const NS = "openshell-system";
const GATEWAY_ID = `e2e-env-${Date.now().toString(36)}`;

const USER_ATTEMPT = {
  OPENSHELL_SANDBOX_ID: "evil",
  OPENSHELL_TELEMETRY_ENABLED: "maybe",
  OPENSHELL_NETWORK_RUNTIME_CAPABILITIES: "all",
  OPENSHELL_SANDBOX_UID: "0",
  OPENSHELL_ENDPOINT: "http://evil",
};

let driver: DriverProcess;

beforeAll(async () => {
  // No --gateway-endpoint: the driver has no endpoint to give, so none may appear at all.
  driver = await startDriver({ kubeconfig: driverKubeconfig(), gatewayId: GATEWAY_ID });
});

afterAll(async () => {
  kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/gateway-id=${GATEWAY_ID}`, "--wait=false"], { allowFailure: true });
  await driver?.stop();
});

function agentEnv(podSpec: any): { name: string; value?: string }[] {
  return podSpec.containers.find((c: any) => c.name === "agent").env;
}

test("user environment cannot override a driver-owned variable, in the Sandbox CR or in the pod the controller makes", async () => {
  const { id, name } = uniqueName("env");
  const sandbox = sandboxRequest({
    id,
    name,
    spec: {
      logLevel: "info",
      environment: { ...USER_ATTEMPT, FROM_SPEC: "kept" },
      template: { image: TEST_IMAGE, environment: { ...USER_ATTEMPT, FROM_TEMPLATE: "kept too" } },
    },
  });
  await connectClient(driver.socket).createSandbox({ sandbox });

  const cr = kubectlJson<{ items: any[] }>(["get", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/sandbox-id=${id}`]).items[0];
  const pod = await eventually("the controller's pod", () => kubectlJson<{ items: any[] }>(["get", "pods", "-n", NS, "-l", `openshell.ai/sandbox-id=${id}`]).items[0]);

  for (const [where, env] of [
    ["Sandbox CR", agentEnv(cr.spec.podTemplate.spec)],
    ["pod", agentEnv(pod.spec)],
  ] as const) {
    const names = env.map((e) => e.name);
    const value = (n: string) => env.find((e) => e.name === n)?.value ?? "";
    expect({ where, duplicates: names.filter((n, i) => names.indexOf(n) !== i) }).toEqual({ where, duplicates: [] });
    expect({ where, hasEndpoint: names.includes("OPENSHELL_ENDPOINT") }).toEqual({ where, hasEndpoint: false });
    expect({
      where,
      OPENSHELL_SANDBOX_ID: value("OPENSHELL_SANDBOX_ID"),
      OPENSHELL_TELEMETRY_ENABLED: value("OPENSHELL_TELEMETRY_ENABLED"),
      OPENSHELL_NETWORK_RUNTIME_CAPABILITIES: value("OPENSHELL_NETWORK_RUNTIME_CAPABILITIES"),
      OPENSHELL_SANDBOX_UID: value("OPENSHELL_SANDBOX_UID"),
    }).toEqual({
      where,
      OPENSHELL_SANDBOX_ID: id,
      OPENSHELL_TELEMETRY_ENABLED: "true",
      OPENSHELL_NETWORK_RUNTIME_CAPABILITIES: "",
      OPENSHELL_SANDBOX_UID: "1000",
    });
    // The user's own variables do get through, and the workload's copy of the user environment
    // carries none of the attempted overrides either.
    expect({ where, FROM_SPEC: value("FROM_SPEC"), FROM_TEMPLATE: value("FROM_TEMPLATE") }).toEqual({ where, FROM_SPEC: "kept", FROM_TEMPLATE: "kept too" });
    const userEnvironment = JSON.parse(value("OPENSHELL_USER_ENVIRONMENT"));
    expect(userEnvironment).toMatchObject({ FROM_SPEC: "kept", FROM_TEMPLATE: "kept too" });
    expect({ where, overrides: Object.keys(userEnvironment).filter((n) => n in USER_ATTEMPT) }).toEqual({ where, overrides: [] });
  }
});
