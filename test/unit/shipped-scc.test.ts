// The SCC shipped in deploy/openshift/sandbox-scc.yaml against every pod the driver renders: each
// fits it in an OpenShift namespace, none needs more than it grants, it grants nothing no pod
// needs, and restricted-v2's refusals are pinned, so a render change that needs more privilege
// fails here before it fails on a cluster.
import { describe, expect, test } from "bun:test";
import type { JsonObject } from "@bufbuild/protobuf";
import { loadAllYaml, type V1ClusterRole, type V1PodSpec, type V1RoleBinding } from "@kubernetes/client-node";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fitsScc } from "../../src/platform/openshift/fits-scc";
import type { SecurityContextConstraints } from "../../src/platform/openshift/scc";
import { podAsCreated } from "../../src/platform/pod-as-created";
import { renderSandbox, validateSandbox } from "../../src/sandbox";
import type { RenderSettings } from "../../src/sandbox/settings";
import { REPO } from "../support/paths";
import { AUTHENTICATED_PROXY, makeSandbox, makeSettings as baseSettings, WIDENED_FOR_UPSTREAM_FIELDS } from "./fixtures";
import { expectGolden } from "./golden";

/** These tests pin upstream's rendering of every scheduling field: the operator widened the policy to them. */
function makeSettings(overrides: Partial<RenderSettings> = {}): RenderSettings {
  return baseSettings({ requestPolicy: WIDENED_FOR_UPSTREAM_FIELDS, ...overrides });
}

const SHIPPED_FILE = join(REPO, "deploy/openshift/sandbox-scc.yaml");
const SHARED_CRDS = join(REPO, "../shared/crds");

const OPENSHIFT_NAMESPACE = {
  "openshift.io/sa.scc.uid-range": "1000680000/10000",
  "openshift.io/sa.scc.supplemental-groups": "1000680000/10000",
  "openshift.io/sa.scc.mcs": "s0:c26,c10",
};

type Document = { apiVersion?: string; kind?: string; metadata?: { name?: string } } & Record<string, unknown>;

function documentsOf(file: string): Document[] {
  return loadAllYaml(readFileSync(file, "utf8")) as Document[];
}

function sccNamed(file: string, name: string): SecurityContextConstraints {
  const found = documentsOf(file).find((d) => d.kind === "SecurityContextConstraints" && d.metadata?.name === name);
  if (!found) throw new Error(`${file} has no SCC ${name}`);
  return found as unknown as SecurityContextConstraints;
}

const shipped = sccNamed(SHIPPED_FILE, "openshell-sandbox");

/** The pod the controller creates for a sandbox rendered into an OpenShift namespace. */
function podFor(sandbox = makeSandbox(), settings: RenderSettings = makeSettings()): V1PodSpec {
  return podAsCreated(renderSandbox(validateSandbox(sandbox, settings), settings, OPENSHIFT_NAMESPACE));
}

const fullDriverConfig: JsonObject = {
  pod: {
    node_selector: { pool: "driver" },
    tolerations: [{ key: "dedicated", operator: "Equal", value: "sandboxes", effect: "NoSchedule" }],
    priority_class_name: "sandbox-high",
  },
  containers: {
    agent: {
      resources: { requests: { "ephemeral-storage": "1Gi" } },
      volume_mounts: [{ name: "datasets", mount_path: "/data/sets", read_only: true }],
    },
  },
  volumes: [{ name: "datasets", persistent_volume_claim: { claim_name: "shared-datasets" } }],
};

function fullSandbox() {
  return makeSandbox({
    spec: {
      resourceRequirements: { gpu: { count: 2 } },
      template: {
        resources: { cpuLimit: "2", memoryLimit: "4Gi" },
        driverConfig: fullDriverConfig,
        platformConfig: { runtime_class_name: "kata", tolerations: [{ key: "nvidia.com/gpu", operator: "Exists" }], host_users: false },
      },
    },
  });
}

function sidecarSettings(sidecarBinaryAwareNetworkPolicy: boolean): RenderSettings {
  return makeSettings({
    supervisorTopology: "sidecar",
    sidecarBinaryAwareNetworkPolicy,
    clientTlsSecretName: "sandbox-client-tls",
    appArmorProfile: { type: "RuntimeDefault" },
    upstreamProxy: AUTHENTICATED_PROXY,
  });
}

/** Every pod shape the driver renders, as test/unit/render.test.ts builds them. */
const variants: [string, () => V1PodSpec][] = [
  ["minimal-v1beta1", () => podFor()],
  ["minimal-v1alpha1", () => podFor(makeSandbox(), makeSettings({ apiVersion: "v1alpha1" }))],
  ["full", () => podFor(fullSandbox(), makeSettings({ imagePullPolicy: "IfNotPresent", imagePullSecrets: ["regcred"] }))],
  ["image-volume", () => podFor(makeSandbox(), makeSettings({ supervisorSideload: "image-volume" }))],
  ["sidecar-binary-aware", () => podFor(makeSandbox(), sidecarSettings(true))],
  ["sidecar-relaxed", () => podFor(makeSandbox(), sidecarSettings(false))],
  [
    "tls-proxy-apparmor",
    () =>
      podFor(
        makeSandbox({ spec: { template: { agentSocketPath: "/run/agent/agent.sock" } } }),
        makeSettings({
          clientTlsSecretName: "sandbox-client-tls",
          hostGatewayIp: "172.17.0.1",
          appArmorProfile: { type: "Localhost", localhostProfile: "openshell-sandbox" },
          upstreamProxy: { ...makeSettings().upstreamProxy, url: "http://proxy.corp:3128" },
        }),
      ),
  ],
  ["user-namespaces", () => podFor(makeSandbox(), makeSettings({ enableUserNamespaces: true }))],
  [
    "workspace-opt-out",
    () =>
      podFor(
        makeSandbox({
          spec: {
            template: {
              driverConfig: {
                containers: { agent: { volume_mounts: [{ name: "projects", mount_path: "/sandbox/projects", read_only: false }] } },
                volumes: [{ name: "projects", persistent_volume_claim: { claim_name: "alice-projects", read_only: false } }],
              },
            },
          },
        }),
      ),
  ],
  ["openshift-identity", () => podFor(makeSandbox(), makeSettings({ workspaceMode: "managed" }))],
];

function containersOf(pod: V1PodSpec) {
  return [...(pod.initContainers ?? []), ...pod.containers];
}

describe("the shipped openshell-sandbox SCC", () => {
  test.each(variants)("the %s pod fits it in an OpenShift namespace", (_, pod) => {
    expect(fitsScc(pod(), shipped, OPENSHIFT_NAMESPACE)).toEqual([]);
  });

  test("it allows exactly the capabilities some rendered container adds, and no other", () => {
    const added = new Set(variants.flatMap(([, pod]) => containersOf(pod()).flatMap((c) => c.securityContext?.capabilities?.add ?? [])));
    expect([...(shipped.allowedCapabilities ?? [])].sort()).toEqual([...added].sort());
  });

  test("it allows exactly the volume types some rendered pod uses, and never hostPath", () => {
    const used = new Set(variants.flatMap(([, pod]) => (pod().volumes ?? []).map((v) => Object.keys(v).find((k) => k !== "name"))));
    expect([...(shipped.volumes ?? [])].sort()).toEqual([...used].sort() as string[]);
    expect(shipped.allowHostDirVolumePlugin).toBe(false);
  });

  test("one more capability on a rendered agent is refused, and the misfit names the capability", () => {
    const pod = podFor();
    pod.containers[0]?.securityContext?.capabilities?.add?.push("SYS_MODULE");
    expect(fitsScc(pod, shipped, OPENSHIFT_NAMESPACE)).toEqual([
      {
        field: "spec.containers[agent].securityContext.capabilities.add[SYS_MODULE]",
        message: `SCC "openshell-sandbox" allows only capabilities [${shipped.allowedCapabilities?.join(", ")}]`,
      },
    ]);
  });

  test("a hostPath volume on a rendered pod is refused, and the misfit names the volume", () => {
    const pod = podFor();
    pod.volumes = [...(pod.volumes ?? []), { name: "host-root", hostPath: { path: "/" } }];
    expect(fitsScc(pod, shipped, OPENSHIFT_NAMESPACE).map((m) => m.field)).toEqual(["spec.volumes[host-root].hostPath"]);
  });

  test("the combined pod asks for no fsGroup and the SCC injects none (fsGroup RunAsAny), so kubelet never regroups the client-TLS key to the workload", () => {
    const combined = podFor(makeSandbox(), makeSettings({ clientTlsSecretName: "openshell-client-tls" }));
    expect(combined.securityContext?.fsGroup).toBeUndefined();
    expect(shipped.fsGroup?.type).toBe("RunAsAny");
    expect(fitsScc(combined, shipped, OPENSHIFT_NAMESPACE)).toEqual([]);
  });

  test("the ClusterRole grants only `use` of this SCC and the RoleBinding gives it to the sandbox ServiceAccount", () => {
    const docs = documentsOf(SHIPPED_FILE);
    const role = docs.find((d) => d.kind === "ClusterRole") as unknown as V1ClusterRole;
    expect(role.metadata?.name).toBe("openshell-sandbox-scc");
    expect(role.rules).toEqual([
      {
        apiGroups: ["security.openshift.io"],
        resources: ["securitycontextconstraints"],
        resourceNames: ["openshell-sandbox"],
        verbs: ["use"],
      },
    ]);
    const binding = docs.find((d) => d.kind === "RoleBinding") as unknown as V1RoleBinding;
    expect(binding.metadata).toMatchObject({ name: "openshell-sandbox-scc", namespace: "openshell-system" });
    expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "openshell-sandbox-scc" });
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "openshell-sandbox", namespace: "openshell-system" }]);
    expect(docs.map((d) => d.kind)).toEqual(["SecurityContextConstraints", "ClusterRole", "RoleBinding"]);
  });

  test("use comes from RBAC alone: no users, no groups, no priority, no privileged container, no host access", () => {
    expect(shipped).toMatchObject({
      users: [],
      groups: [],
      priority: null,
      allowPrivilegedContainer: false,
      allowHostIPC: false,
      allowHostNetwork: false,
      allowHostPID: false,
      allowHostPorts: false,
      runAsUser: { type: "RunAsAny" },
      seLinuxContext: { type: "MustRunAs" },
      fsGroup: { type: "RunAsAny" },
      supplementalGroups: { type: "RunAsAny" },
      seccompProfiles: ["runtime/default"],
    });
  });
});

describe.if(existsSync(SHARED_CRDS))("the shipped SCC against the shared OpenShift definitions", () => {
  const crd = documentsOf(join(SHARED_CRDS, "security.openshift.io_securitycontextconstraints.yaml"))[0] as {
    spec: { versions: { schema: { openAPIV3Schema: { required: string[]; properties: Record<string, unknown> } } }[] };
  };
  const schema = crd.spec.versions[0]?.schema.openAPIV3Schema;
  const restrictedV2 = sccNamed(join(SHARED_CRDS, "openshift-default-sccs.yaml"), "restricted-v2");

  test("it carries every field the SCC CRD requires, even the null ones, and only fields the CRD knows", () => {
    for (const field of schema?.required ?? []) expect({ field, present: field in shipped }).toEqual({ field, present: true });
    for (const field of Object.keys(shipped)) expect({ field, known: field in (schema?.properties ?? {}) }).toEqual({ field, known: true });
  });

  test("it has every field restricted-v2 has, so server-side apply stores the same shape", () => {
    for (const field of Object.keys(restrictedV2)) expect({ field, present: field in shipped }).toEqual({ field, present: true });
  });

  test.each(variants)("restricted-v2 refuses the %s pod exactly as pinned", (name, pod) => {
    expectGolden(`scc-restricted-v2-${name}`, fitsScc(pod(), restrictedV2, OPENSHIFT_NAMESPACE));
  });
});
