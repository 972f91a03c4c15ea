import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync, mkdirSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeClient, loadKubeAccess } from "../../src/kube";
import { b64, makePki, type Pki } from "./pki";
import { startTlsApi, type TlsApi } from "./tls-api";
import { failure } from "./expect-kube-error";

let pki: Pki;
let mtls: TlsApi;
let dir: string;

beforeAll(async () => {
  pki = makePki();
  mtls = await startTlsApi(pki, { requireClientCert: true });
  dir = mkdtempSync(join(tmpdir(), "kubeconfig-"));
});
afterAll(async () => {
  await mtls.close();
});

function writeKubeconfig(name: string, cluster: string, user: string, extraContext = ""): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    `apiVersion: v1
kind: Config
current-context: test
clusters:
- name: test-cluster
  cluster:
${cluster}
users:
- name: test-user
  user:
${user}
contexts:
- name: test
  context:
    cluster: test-cluster
    user: test-user
${extraContext}`,
  );
  return path;
}

async function clientFor(kubeconfigPath: string, timeoutMs = 5000): Promise<KubeClient> {
  return new KubeClient(await loadKubeAccess({ kubeconfigPath }), { timeoutMs });
}


describe("kubeconfig with client certificates over mutual TLS", () => {
  test("a kubeconfig naming CA, certificate and key files reaches the server as CN=admin", async () => {
    const path = writeKubeconfig(
      "files.yaml",
      `    server: ${mtls.url}\n    certificate-authority: ${pki.caFile}`,
      `    client-certificate: ${pki.clientCertFile}\n    client-key: ${pki.clientKeyFile}`,
      "    namespace: team-a",
    );
    const access = await loadKubeAccess({ kubeconfigPath: path });
    expect(access.contextNamespace).toBe("team-a");
    const client = new KubeClient(access, { timeoutMs: 5000 });
    const v = await client.version();
    expect(v.gitVersion).toBe("v1.35.0-test");
    expect(v.clientCN).toBe("admin");
    const pods = await client.request<{ clientCN: string; metadata: { resourceVersion: string } }>({
      verb: "list",
      path: "/api/v1/namespaces/x/pods",
      resource: "pods",
      namespace: "x",
    });
    expect(pods.clientCN).toBe("admin");
    expect(mtls.seen.at(-1)).toMatchObject({ path: "/api/v1/namespaces/x/pods", clientCN: "admin" });
  });

  test("a kubeconfig with inline certificate data works the same as one with files", async () => {
    const path = writeKubeconfig(
      "inline.yaml",
      `    server: ${mtls.url}\n    certificate-authority-data: ${b64(pki.ca)}`,
      `    client-certificate-data: ${b64(pki.clientCert)}\n    client-key-data: ${b64(pki.clientKey)}`,
    );
    const v = await (await clientFor(path)).version();
    expect(v.clientCN).toBe("admin");
  });

  test("relative certificate paths are resolved against the kubeconfig's directory", async () => {
    const sub = join(dir, "relative");
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, "ca.crt"), pki.ca);
    writeFileSync(join(sub, "admin.crt"), pki.clientCert);
    writeFileSync(join(sub, "admin.key"), pki.clientKey);
    const path = writeKubeconfig(
      "relative/config",
      `    server: ${mtls.url}\n    certificate-authority: ca.crt`,
      `    client-certificate: admin.crt\n    client-key: admin.key`,
    );
    expect((await (await clientFor(path)).version()).clientCN).toBe("admin");
  });

  test("without the cluster CA the server certificate is rejected", async () => {
    const path = writeKubeconfig(
      "no-ca.yaml",
      `    server: ${mtls.url}`,
      `    client-certificate: ${pki.clientCertFile}\n    client-key: ${pki.clientKeyFile}`,
    );
    const before = mtls.seen.length;
    const err = await failure((await clientFor(path)).version());
    expect(err.status).toBe(0);
    expect(err.reason).toBe("TLSError");
    expect(err.message).toContain("get version");
    expect(mtls.seen.length).toBe(before);
  });

  test("without a client certificate the server refuses the handshake", async () => {
    const path = writeKubeconfig("no-cert.yaml", `    server: ${mtls.url}\n    certificate-authority: ${pki.caFile}`, `    {}`);
    const before = mtls.seen.length;
    const err = await failure((await clientFor(path)).version());
    expect(err.status).toBe(0);
    expect(mtls.seen.length).toBe(before);
  });

  test("insecure-skip-tls-verify lets a call through without the CA", async () => {
    const path = writeKubeconfig(
      "insecure.yaml",
      `    server: ${mtls.url}\n    insecure-skip-tls-verify: true`,
      `    client-certificate: ${pki.clientCertFile}\n    client-key: ${pki.clientKeyFile}`,
    );
    expect((await (await clientFor(path)).version()).clientCN).toBe("admin");
  });
});

describe("bearer tokens", () => {
  let api: TlsApi;
  let current = "token-one";
  beforeAll(async () => {
    api = await startTlsApi(pki, { requireClientCert: false, bearerToken: () => current });
  });
  afterAll(() => api.close());

  test("a rotated token file is picked up by the next request", async () => {
    const tokenPath = join(dir, "token");
    writeFileSync(tokenPath, "token-one\n");
    const path = writeKubeconfig("token-file.yaml", `    server: ${api.url}\n    certificate-authority: ${pki.caFile}`, `    token-file: ${tokenPath}`);
    const client = await clientFor(path);
    await client.version();
    expect(api.seen.at(-1)?.authorization).toBe("Bearer token-one");

    current = "token-two-rotated";
    // The kubelet rotates projected tokens by swapping the file, not by editing it in place.
    writeFileSync(`${tokenPath}.new`, "token-two-rotated\n");
    renameSync(`${tokenPath}.new`, tokenPath);
    await client.version();
    expect(api.seen.at(-1)?.authorization).toBe("Bearer token-two-rotated");

    current = "token-three";
    writeFileSync(tokenPath, "token-three"); // edited in place this time
    await client.version();
    expect(api.seen.at(-1)?.authorization).toBe("Bearer token-three");
  });

  test("a stale token is reported as 401 Unauthorized without echoing the token", async () => {
    current = "the-new-one";
    const path = writeKubeconfig("static-token.yaml", `    server: ${api.url}\n    certificate-authority: ${pki.caFile}`, `    token: secret-old-token`);
    const err = await failure((await clientFor(path)).version());
    expect(err.status).toBe(401);
    expect(err.reason).toBe("Unauthorized");
    expect(err.message).not.toContain("secret-old-token");
  });

  test("in a pod the service account token, CA and namespace are used and the token is re-read after rotation", async () => {
    const root = mkdtempSync(join(tmpdir(), "sa-root-"));
    const sa = join(root, "var/run/secrets/kubernetes.io/serviceaccount");
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, "ca.crt"), pki.ca);
    writeFileSync(join(sa, "token"), "sa-token-1");
    writeFileSync(join(sa, "namespace"), "openshell-system\n");
    current = "sa-token-1";
    const access = await loadKubeAccess({
      env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(api.port), KUBECONFIG: "/nonexistent" },
      serviceAccountRoot: root,
    });
    expect(access.server).toBe(api.url);
    expect(access.contextNamespace).toBe("openshell-system");
    expect(access.describe).not.toContain("sa-token");
    const client = new KubeClient(access, { timeoutMs: 5000 });
    await client.version();
    current = "sa-token-2";
    writeFileSync(join(sa, "token"), "sa-token-2");
    await client.version();
    expect(api.seen.at(-1)?.authorization).toBe("Bearer sa-token-2");
  });
});

describe("finding credentials", () => {
  test("an explicit kubeconfig path wins over the in-cluster service account", async () => {
    const path = writeKubeconfig("explicit.yaml", `    server: https://explicit.example:6443`, `    token: t`);
    const access = await loadKubeAccess({ kubeconfigPath: path, env: { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" } });
    expect(access.server).toBe("https://explicit.example:6443");
  });

  test("KUBECONFIG is used outside a cluster, and ~/.kube/config after it", async () => {
    const path = writeKubeconfig("env.yaml", `    server: https://from-env.example:6443`, `    token: t`);
    expect((await loadKubeAccess({ env: { KUBECONFIG: path }, home: "/nonexistent" })).server).toBe("https://from-env.example:6443");
    const home = mkdtempSync(join(tmpdir(), "home-"));
    mkdirSync(join(home, ".kube"));
    renameSync(writeKubeconfig("home.yaml", `    server: https://from-home.example:6443`, `    token: t`), join(home, ".kube", "config"));
    expect((await loadKubeAccess({ env: {}, home })).server).toBe("https://from-home.example:6443");
  });

  test("with nothing configured the error lists every place that was tried", async () => {
    await expect(loadKubeAccess({ env: {}, home: "/nonexistent" })).rejects.toThrow(/in-cluster.*KUBECONFIG.*\/nonexistent\/.kube\/config/);
  });

  test("a missing client key file is named in the error", async () => {
    const path = writeKubeconfig("bad-key.yaml", `    server: https://x.example`, `    client-certificate: ${pki.clientCertFile}\n    client-key: /nope/admin.key`);
    await expect(loadKubeAccess({ kubeconfigPath: path })).rejects.toThrow(/user "test-user" client-key file \/nope\/admin.key: cannot read: ENOENT/);
  });

  test("a missing token file is named in the error", async () => {
    const path = writeKubeconfig("bad-token.yaml", `    server: https://x.example`, `    token-file: /nope/token`);
    await expect(loadKubeAccess({ kubeconfigPath: path })).rejects.toThrow(/token-file \/nope\/token: cannot stat: ENOENT/);
  });

  test("a current-context that names no context is reported with the file name", async () => {
    const path = join(dir, "bad-context.yaml");
    writeFileSync(path, `apiVersion: v1\nkind: Config\ncurrent-context: missing\nclusters: []\nusers: []\ncontexts: []\n`);
    await expect(loadKubeAccess({ kubeconfigPath: path })).rejects.toThrow(`kubeconfig ${path}: current-context "missing" is not defined under contexts`);
  });

  test("an exec plugin that prints a token supplies the Authorization header", async () => {
    const script = join(dir, "cred.sh");
    writeFileSync(
      script,
      `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-token"}}'\n`,
      { mode: 0o755 },
    );
    const path = writeKubeconfig(
      "exec.yaml",
      `    server: https://x.example`,
      `    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ${script}\n      interactiveMode: Never`,
    );
    const access = await loadKubeAccess({ kubeconfigPath: path });
    expect(await access.auth()).toMatchObject({ Authorization: "Bearer exec-token" });
  });

  test("an exec plugin that fails is reported with the user's name", async () => {
    const path = writeKubeconfig(
      "exec-fail.yaml",
      `    server: https://x.example`,
      `    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/false\n      interactiveMode: Never`,
    );
    await expect(loadKubeAccess({ kubeconfigPath: path })).rejects.toThrow(/user "test-user" exec plugin/);
  });
});
