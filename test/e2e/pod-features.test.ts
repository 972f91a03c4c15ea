// e2e tier: the pod features the flags turn on against what this API server keeps. Where the
// feature's gate is on (user namespaces from Kubernetes 1.33, image volumes from 1.35) the driver
// serves it and the pod keeps the field; below that the driver refuses to serve (every call
// FAILED_PRECONDITION naming the Kubernetes version, the gate and the fix) and `doctor` fails the
// same way. Each case asserts whichever side this cluster's version is on: the matrix
// (`just test-matrix`) runs both.
import { afterAll, describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DoctorDocument } from "../../src/doctor/report";
import { connectClient } from "../support/clients";
import { clusterState, driverKubeconfig, eventually, k8sMinor, kubectl, kubectlJson } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { DRIVER_BIN } from "../support/paths";
import { sandboxRequest, uniqueName } from "../support/requests";

const NS = "openshell-system";
const GATEWAY_ID = `e2e-feat-${Date.now().toString(36)}`;
const { k8sVersion } = clusterState();
const drivers: DriverProcess[] = [];
const work = mkdtempSync(join(tmpdir(), "pod-features-e2e-"));

afterAll(async () => {
  kubectl(["delete", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/gateway-id=${GATEWAY_ID}`, "--wait=false"], { allowFailure: true });
  await Promise.all(drivers.map((d) => d.stop()));
});

interface FeatureCase {
  flag: string;
  gate: string;
  sinceMinor: number;
  /** The pod field that shows the feature was kept. */
  kept: (pod: any) => unknown;
}

const CASES: FeatureCase[] = [
  { flag: "--enable-user-namespaces", gate: "UserNamespacesSupport", sinceMinor: 33, kept: (pod) => pod.spec.hostUsers === false },
  {
    flag: "--supervisor-sideload=image-volume",
    gate: "ImageVolume",
    sinceMinor: 35,
    kept: (pod) => pod.spec.volumes.some((v: any) => v.name === "openshell-supervisor-bin" && v.image?.reference),
  },
];

function doctor(args: string[]): { code: number; json: DoctorDocument } {
  const proc = Bun.spawnSync([DRIVER_BIN, "doctor", `--kubeconfig=${driverKubeconfig()}`, `--socket=${join(work, "sock", "driver.sock")}`, "--output=json", ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "", HOME: work },
  });
  return { code: proc.exitCode ?? -1, json: JSON.parse(proc.stdout.toString()) as DoctorDocument };
}

describe(`pod features on Kubernetes ${k8sVersion}`, () => {
  for (const c of CASES) {
    if (k8sMinor() >= c.sinceMinor) {
      test(`${c.flag} is served on ${k8sVersion} (1.${c.sinceMinor}+): the sandbox pod keeps the field and doctor passes the pod features check`, async () => {
        const driver = await startDriver({ kubeconfig: driverKubeconfig(), gatewayId: GATEWAY_ID, args: [c.flag] });
        drivers.push(driver);
        const { id, name } = uniqueName("feat");
        await connectClient(driver.socket).createSandbox({ sandbox: sandboxRequest({ id, name }) });
        const pod = await eventually("the sandbox pod", () => kubectlJson<{ items: any[] }>(["get", "pods", "-n", NS, "-l", `openshell.ai/sandbox-id=${id}`]).items[0]);
        expect(c.kept(pod)).toBe(true);
        const run = doctor([c.flag]);
        expect(run.json.checks.find((r) => r.name === "pod features")?.status).toBe("PASS");
      });
    } else {
      test(`${c.flag} on ${k8sVersion} (before 1.${c.sinceMinor}): the driver refuses to serve, every call FAILED_PRECONDITION naming the version, ${c.gate} and the fix; doctor fails alike`, async () => {
        const driver = await startDriver({ kubeconfig: driverKubeconfig(), gatewayId: GATEWAY_ID, args: [c.flag], waitFor: "socket" });
        drivers.push(driver);
        const client = connectClient(driver.socket);
        const { id, name } = uniqueName("feat-refused");
        const refusal = await eventually("a FAILED_PRECONDITION refusal", async () => {
          const err = ConnectError.from(await client.createSandbox({ sandbox: sandboxRequest({ id, name }) }).then(() => new Error("accepted"), (e: unknown) => e));
          return err.code === Code.FailedPrecondition ? err : undefined;
        });
        expect(refusal.rawMessage).toContain(`${c.flag} cannot be served: the API server (Kubernetes ${k8sVersion}) drops`);
        expect(refusal.rawMessage).toContain(`needs the ${c.gate} feature gate, on by default from Kubernetes 1.${c.sinceMinor}`);
        expect(refusal.rawMessage).toContain(`fix: run Kubernetes 1.${c.sinceMinor} or newer, or enable the ${c.gate} feature gate`);
        const listed = ConnectError.from(await client.listSandboxes({}).then(() => new Error("accepted"), (e: unknown) => e));
        expect(listed.code).toBe(Code.FailedPrecondition);
        expect(await (await fetch(`${driver.healthUrl}/readyz`)).text()).toContain(c.flag);
        expect(kubectlJson<{ items: unknown[] }>(["get", "sandboxes.agents.x-k8s.io", "-n", NS, "-l", `openshell.ai/sandbox-id=${id}`]).items).toEqual([]);

        const run = doctor([c.flag]);
        expect(run.code).toBe(1);
        expect(run.json.checks.find((r) => r.name === "pod features")).toMatchObject({
          status: "FAIL",
          detail: expect.stringContaining(`(Kubernetes ${k8sVersion}) drops`),
          fix: expect.stringContaining(`enable the ${c.gate} feature gate`),
        });
      });
    }
  }
});
