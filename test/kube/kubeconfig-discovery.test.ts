// Where the driver looks for credentials when no --kubeconfig is given, under the conditions of
// OpenShift's restricted-v2: an arbitrary UID with no passwd entry, so no HOME either.
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadKubeAccess } from "../../src/kube";
import { makePki } from "./pki";

function serviceAccountRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "sa-root-"));
  const sa = join(root, "var/run/secrets/kubernetes.io/serviceaccount");
  mkdirSync(sa, { recursive: true });
  writeFileSync(join(sa, "ca.crt"), makePki().ca);
  writeFileSync(join(sa, "token"), "sa-token");
  writeFileSync(join(sa, "namespace"), "openshell-system\n");
  return root;
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => new Error("credentials were found"),
    (err: unknown) => err as Error,
  );
}

describe("credential discovery without HOME", () => {
  test("with no HOME, no service account and no KUBECONFIG the error names every place looked and that HOME was not set", async () => {
    const err = await failureOf(loadKubeAccess({ env: {} }));
    expect(err.message).toBe(
      "no Kubernetes credentials found; tried: in-cluster (KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT not set); " +
        "KUBECONFIG (not set); ~/.kube/config (skipped: HOME is not set); pass --kubeconfig, or run in a pod with a service account",
    );
    expect(err.message).not.toContain("uv_os_homedir");
  });

  test("an empty HOME counts as not set rather than meaning the working directory's .kube/config", async () => {
    const err = await failureOf(loadKubeAccess({ env: { HOME: "" } }));
    expect(err.message).toContain("~/.kube/config (skipped: HOME is not set)");
  });

  test("in-cluster env without the token file, and no HOME, names the token path it expected", async () => {
    const root = mkdtempSync(join(tmpdir(), "sa-empty-"));
    const err = await failureOf(
      loadKubeAccess({ env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" }, serviceAccountRoot: root }),
    );
    expect(err.message).toContain(`in-cluster (KUBERNETES_SERVICE_HOST is set but ${root}/var/run/secrets/kubernetes.io/serviceaccount/token does not exist)`);
    expect(err.message).toContain("HOME is not set");
  });

  test("a pod with no HOME uses its service account", async () => {
    const access = await loadKubeAccess({
      env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" },
      serviceAccountRoot: serviceAccountRoot(),
    });
    expect(access.server).toBe("https://10.96.0.1:443");
    expect(access.contextNamespace).toBe("openshell-system");
    expect(await access.auth()).toEqual({ Authorization: "Bearer sa-token" });
  });

  test("HOME is taken from the given environment, not from the process's own", async () => {
    const err = await failureOf(loadKubeAccess({ env: { HOME: "/nonexistent-home" } }));
    expect(err.message).toContain("/nonexistent-home/.kube/config (does not exist)");
  });
});
