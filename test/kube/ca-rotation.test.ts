import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeClient, loadKubeAccess, type KubeAccess } from "../../src/kube";
import { failure } from "./expect-kube-error";
import { makePki } from "./pki";
import { startTlsApi, type TlsApi } from "./tls-api";

const servers: TlsApi[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

/** Replaces a file the way the kubelet and cert-manager do: a new file renamed over the old one. */
function rotate(path: string, content: string): void {
  writeFileSync(`${path}.new`, content);
  renameSync(`${path}.new`, path);
}

/**
 * The API server comes back on the same address with a certificate from a new CA, and the CA file
 * is rotated to that CA: the same client keeps working, and fails while the file still holds the
 * old CA (so the test cannot pass by ignoring the CA).
 */
async function rotateServerCa(caFile: string, access: (port: number) => Promise<KubeAccess>): Promise<void> {
  const before = makePki();
  const after = makePki();
  writeFileSync(caFile, before.ca);
  const first = await startTlsApi(before, { requireClientCert: false });
  servers.push(first);
  const client = new KubeClient(await access(first.port), { timeoutMs: 5000 });
  expect((await client.version()).gitVersion).toBe("v1.35.0-test");

  await first.close();
  servers.splice(servers.indexOf(first), 1);
  servers.push(await startTlsApi(after, { requireClientCert: false, port: first.port }));
  expect((await failure(client.version())).reason).toBe("TLSError");

  rotate(caFile, after.ca);
  expect((await client.version()).gitVersion).toBe("v1.35.0-test");
}

describe("a rotated cluster CA is picked up without a restart", () => {
  test("a kubeconfig certificate-authority file is re-read when it changes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ca-rotation-"));
    const caFile = join(dir, "ca.crt");
    await rotateServerCa(caFile, async (port) => {
      const kubeconfig = join(dir, "config");
      writeFileSync(
        kubeconfig,
        `apiVersion: v1
kind: Config
current-context: test
clusters:
- name: test-cluster
  cluster:
    server: https://127.0.0.1:${port}
    certificate-authority: ${caFile}
users:
- name: test-user
  user:
    token: t
contexts:
- name: test
  context:
    cluster: test-cluster
    user: test-user
`,
      );
      return loadKubeAccess({ kubeconfigPath: kubeconfig });
    });
  });

  test("the in-cluster service account CA is re-read when it changes", async () => {
    const root = mkdtempSync(join(tmpdir(), "sa-ca-rotation-"));
    const sa = join(root, "var/run/secrets/kubernetes.io/serviceaccount");
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, "token"), "sa-token");
    await rotateServerCa(join(sa, "ca.crt"), (port) =>
      loadKubeAccess({
        env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(port), KUBECONFIG: "/nonexistent" },
        serviceAccountRoot: root,
      }),
    );
  });
});
