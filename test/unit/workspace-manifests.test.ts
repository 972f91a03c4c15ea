import { describe, expect, test } from "bun:test";
import { lookupNamespace, podsPath, sandboxesPath } from "../../src/driver/kube-paths";
import { isOwnedNamespace, managedNamespace, secretCopy, sshIngressPolicy } from "../../src/driver/workspace-manifests";

describe("objects managed workspace mode writes (as upstream renders them)", () => {
  test("a workspace namespace carries the ownership labels and only the gateway namespace's OpenShift ranges", () => {
    const ns = managedNamespace("openshell-gw-team", "team", "gw", {
      "openshift.io/sa.scc.uid-range": "1000680000/10000",
      "openshift.io/sa.scc.supplemental-groups": "1000680000/10000",
      "openshift.io/description": "the gateway",
    });
    expect(ns).toEqual({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: "openshell-gw-team",
        labels: { "openshell.ai/managed-by": "openshell", "openshell.ai/gateway-id": "gw", "openshell.ai/sandbox-workspace": "team" },
        annotations: {
          "openshift.io/sa.scc.uid-range": "1000680000/10000",
          "openshift.io/sa.scc.supplemental-groups": "1000680000/10000",
        },
      },
    });
    expect(managedNamespace("n", "w", "gw", {}).metadata).not.toHaveProperty("annotations");
  });

  test("a namespace is this gateway's only with managed-by=openshell and its own gateway id", () => {
    const labelled = (labels: Record<string, string>) => ({ metadata: { name: "n", labels } });
    expect(isOwnedNamespace(managedNamespace("n", "w", "gw", {}), "gw")).toBe(true);
    expect(isOwnedNamespace(managedNamespace("n", "w", "other-gw", {}), "gw")).toBe(false);
    expect(isOwnedNamespace(labelled({ "openshell.ai/gateway-id": "gw" }), "gw")).toBe(false);
    expect(isOwnedNamespace({ metadata: { name: "n" } }, "gw")).toBe(false);
  });

  test("a copied Secret keeps the source's type and data and nothing else of its metadata", () => {
    const source = {
      metadata: { name: "regcred", namespace: "openshell", uid: "u-1", resourceVersion: "7", labels: { team: "x" }, annotations: { a: "b" } },
      type: "kubernetes.io/dockerconfigjson",
      data: { ".dockerconfigjson": "e30=" },
    };
    expect(secretCopy(source, "openshell-gw-team")).toEqual({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "regcred", namespace: "openshell-gw-team", labels: { "openshell.ai/managed-by": "openshell" } },
      type: "kubernetes.io/dockerconfigjson",
      data: { ".dockerconfigjson": "e30=" },
    });
  });

  test("the SSH NetworkPolicy admits only the gateway's pods, from the gateway namespace, on TCP 2222", () => {
    const policy = sshIngressPolicy("openshell-gw-team", {
      enabled: true,
      sandboxPolicy: false,
      gatewayNamespace: "openshell",
      gatewayPodSelector: { "app.kubernetes.io/name": "openshell" },
    });
    expect(policy.metadata).toEqual({ name: "openshell-sandbox-ssh", namespace: "openshell-gw-team", labels: { "openshell.ai/managed-by": "openshell" } });
    expect(policy.spec).toEqual({
      podSelector: { matchLabels: { "openshell.ai/managed-by": "openshell" } },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "openshell" } },
              podSelector: { matchLabels: { "app.kubernetes.io/name": "openshell" } },
            },
          ],
          ports: [{ port: 2222, protocol: "TCP" }],
        },
      ],
    });
    // Sent as JSON: the wire spelling is `from`, not client-node's `_from`.
    expect(JSON.stringify(policy)).toContain('"from":');
  });
});

describe("where lookups and watches look", () => {
  test("shared mode stays in the driver's namespace; managed and operator span the cluster", () => {
    expect(lookupNamespace({ workspaceMode: "shared", namespace: "openshell" })).toBe("openshell");
    expect(lookupNamespace({ workspaceMode: "managed", namespace: "openshell" })).toBeUndefined();
    expect(lookupNamespace({ workspaceMode: "operator", namespace: "openshell" })).toBeUndefined();
    expect(sandboxesPath("v1beta1", "openshell")).toBe("/apis/agents.x-k8s.io/v1beta1/namespaces/openshell/sandboxes");
    expect(sandboxesPath("v1alpha1", undefined)).toBe("/apis/agents.x-k8s.io/v1alpha1/sandboxes");
    expect(podsPath(undefined)).toBe("/api/v1/pods");
    expect(podsPath("team")).toBe("/api/v1/namespaces/team/pods");
  });
});
