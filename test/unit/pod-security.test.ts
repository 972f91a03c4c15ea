import { describe, expect, test } from "bun:test";
import type { V1Container, V1PodSpec } from "@kubernetes/client-node";
import {
  describeNamespaceLevel,
  levelAllows,
  namespaceEnforceLevel,
  type PodSecurityLevel,
  requiredPodSecurityLevel,
} from "../../src/platform/pod-security";
import { renderSandbox, validateSandbox } from "../../src/sandbox";
import { makeSandbox, makeSettings } from "./fixtures";

/** A container restricted admits: non-root, no escalation, every capability dropped, RuntimeDefault. */
function hardened(name = "app", overrides: Partial<V1Container> = {}): V1Container {
  return {
    name,
    image: "busybox",
    securityContext: {
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    ...overrides,
  };
}

function pod(overrides: Partial<V1PodSpec> = {}): V1PodSpec {
  return { containers: [hardened()], volumes: [{ name: "scratch", emptyDir: {} }], ...overrides };
}

function withContext(context: NonNullable<V1Container["securityContext"]>): V1PodSpec {
  const base = hardened();
  return pod({ containers: [{ ...base, securityContext: { ...base.securityContext, ...context } }] });
}

type Case = [string, V1PodSpec, PodSecurityLevel, string];

const baselineCases: Case[] = [
  ["host network", pod({ hostNetwork: true }), "privileged", "spec.hostNetwork shares the host's namespace"],
  ["host PID", pod({ hostPID: true }), "privileged", "spec.hostPID shares the host's namespace"],
  ["host IPC", pod({ hostIPC: true }), "privileged", "spec.hostIPC shares the host's namespace"],
  ["a privileged container", withContext({ privileged: true }), "privileged", "spec.containers[app].securityContext.privileged is true"],
  [
    "SYS_ADMIN added",
    withContext({ capabilities: { drop: ["ALL"], add: ["SYS_ADMIN"] } }),
    "privileged",
    "spec.containers[app].securityContext.capabilities.add[SYS_ADMIN] is not in the baseline set",
  ],
  ["a hostPath volume", pod({ volumes: [{ name: "root", hostPath: { path: "/" } }] }), "privileged", "spec.volumes[root].hostPath mounts a host directory"],
  ["a host port", pod({ containers: [hardened("app", { ports: [{ containerPort: 80, hostPort: 8080 }] })] }), "privileged", "spec.containers[app].ports[80].hostPort is 8080"],
  [
    "AppArmor Unconfined on the pod",
    pod({ securityContext: { appArmorProfile: { type: "Unconfined" } } }),
    "privileged",
    "spec.securityContext.appArmorProfile.type is Unconfined",
  ],
  [
    "AppArmor Unconfined on a container",
    withContext({ appArmorProfile: { type: "Unconfined" } }),
    "privileged",
    "spec.containers[app].securityContext.appArmorProfile.type is Unconfined",
  ],
  [
    "an SELinux type that is not a container type",
    withContext({ seLinuxOptions: { type: "spc_t" } }),
    "privileged",
    "spec.containers[app].securityContext.seLinuxOptions.type spc_t is not a container type",
  ],
  ["an SELinux user", pod({ securityContext: { seLinuxOptions: { user: "system_u" } } }), "privileged", "spec.securityContext.seLinuxOptions.user is set"],
  ["an SELinux role", withContext({ seLinuxOptions: { role: "sysadm_r" } }), "privileged", "spec.containers[app].securityContext.seLinuxOptions.role is set"],
  ["an unmasked /proc", withContext({ procMount: "Unmasked" }), "privileged", "spec.containers[app].securityContext.procMount is Unmasked, not Default"],
  [
    "seccomp Unconfined on the pod",
    pod({ securityContext: { seccompProfile: { type: "Unconfined" } }, containers: [hardened()] }),
    "privileged",
    "spec.securityContext.seccompProfile.type is Unconfined",
  ],
  [
    "seccomp Unconfined on an init container",
    pod({ initContainers: [{ ...hardened("init"), securityContext: { ...hardened().securityContext, seccompProfile: { type: "Unconfined" } } }] }),
    "privileged",
    "spec.initContainers[init].securityContext.seccompProfile.type is Unconfined",
  ],
  [
    "an unsafe sysctl",
    pod({ securityContext: { sysctls: [{ name: "kernel.msgmax", value: "1" }] } }),
    "privileged",
    "spec.securityContext.sysctls[kernel.msgmax] is not a safe sysctl",
  ],
  [
    "a probe aimed at another host",
    pod({ containers: [hardened("app", { livenessProbe: { httpGet: { host: "10.0.0.1", port: 80 } } })] }),
    "privileged",
    "spec.containers[app].livenessProbe.httpGet.host is set",
  ],
];

const restrictedCases: Case[] = [
  ["a gitRepo volume", pod({ volumes: [{ name: "src", gitRepo: { repository: "https://x" } }] }), "baseline", "spec.volumes[src].gitRepo is not a restricted volume type"],
  ["an NFS volume", pod({ volumes: [{ name: "shared", nfs: { server: "nfs", path: "/" } }] }), "baseline", "spec.volumes[shared].nfs is not a restricted volume type"],
  [
    "privilege escalation left to the default",
    withContext({ allowPrivilegeEscalation: undefined }),
    "baseline",
    "spec.containers[app].securityContext.allowPrivilegeEscalation is not false",
  ],
  [
    "no runAsNonRoot anywhere",
    withContext({ runAsNonRoot: undefined }),
    "baseline",
    "spec.containers[app].securityContext.runAsNonRoot is not true (nor spec.securityContext.runAsNonRoot)",
  ],
  ["runAsUser 0 on a container", withContext({ runAsUser: 0 }), "baseline", "spec.containers[app].securityContext.runAsUser is 0 (root)"],
  ["runAsUser 0 on the pod", pod({ securityContext: { runAsUser: 0 } }), "baseline", "spec.securityContext.runAsUser is 0 (root)"],
  [
    "no seccomp profile on the container or the pod",
    withContext({ seccompProfile: undefined }),
    "baseline",
    "spec.containers[app].securityContext.seccompProfile.type is not RuntimeDefault or Localhost (nor spec.securityContext.seccompProfile.type)",
  ],
  ["capabilities not dropped", withContext({ capabilities: {} }), "baseline", "spec.containers[app].securityContext.capabilities.drop does not include ALL"],
  [
    "a baseline capability added back",
    withContext({ capabilities: { drop: ["ALL"], add: ["CHOWN"] } }),
    "baseline",
    "spec.containers[app].securityContext.capabilities.add[CHOWN] is not NET_BIND_SERVICE",
  ],
];

describe("requiredPodSecurityLevel", () => {
  test.each(baselineCases)("a pod with %s needs privileged, and the reason names the field", (_, spec, level, reason) => {
    const required = requiredPodSecurityLevel(spec);
    expect(required.level).toBe(level);
    expect(required.reasons).toContain(reason);
  });

  test.each(restrictedCases)("a pod with %s fits baseline but not restricted, and the reason names the field", (_, spec, level, reason) => {
    const required = requiredPodSecurityLevel(spec);
    expect(required.level).toBe(level);
    expect(required.reasons).toContain(reason);
  });

  test("a hardened pod fits restricted with no reasons", () => {
    expect(requiredPodSecurityLevel(pod())).toEqual({ level: "restricted", reasons: [] });
  });

  test("a pod-level RuntimeDefault seccomp and runAsNonRoot cover containers that leave them unset", () => {
    const container = hardened();
    const spec = pod({
      securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
      containers: [{ ...container, securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } }],
    });
    expect(requiredPodSecurityLevel(spec).level).toBe("restricted");
  });

  test("an image volume fits restricted, as PSA admits it since 1.33", () => {
    expect(requiredPodSecurityLevel(pod({ volumes: [{ name: "tools", image: { reference: "ghcr.io/x/tools:1" } }] })).level).toBe("restricted");
  });

  test("NET_BIND_SERVICE, a Localhost AppArmor profile, container_t and safe sysctls still fit restricted", () => {
    const spec = withContext({
      capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] },
      appArmorProfile: { type: "Localhost", localhostProfile: "openshell" },
      seLinuxOptions: { type: "container_t", level: "s0:c1,c2" },
    });
    spec.securityContext = { sysctls: [{ name: "net.ipv4.ping_group_range", value: "0 1" }] };
    expect(requiredPodSecurityLevel(spec)).toEqual({ level: "restricted", reasons: [] });
  });

  test("a container that explicitly sets runAsNonRoot false is not rescued by the pod's true", () => {
    const spec = withContext({ runAsNonRoot: false });
    spec.securityContext = { runAsNonRoot: true };
    expect(requiredPodSecurityLevel(spec).level).toBe("baseline");
  });
});

describe("the pods the driver renders", () => {
  const render = (settings = makeSettings()) => renderSandbox(validateSandbox(makeSandbox(), settings), settings).spec.podTemplate.spec;

  test("a combined-topology sandbox needs privileged because its agent adds SYS_ADMIN", () => {
    const required = requiredPodSecurityLevel(render());
    expect(required.level).toBe("privileged");
    expect(required.reasons).toContain("spec.containers[agent].securityContext.capabilities.add[SYS_ADMIN] is not in the baseline set");
  });

  test("a sidecar-topology sandbox still needs privileged: its network helpers add NET_ADMIN", () => {
    const required = requiredPodSecurityLevel(render(makeSettings({ supervisorTopology: "sidecar" })));
    expect(required.level).toBe("privileged");
    expect(required.reasons.some((r) => r.endsWith("capabilities.add[NET_ADMIN] is not in the baseline set"))).toBe(true);
  });

  test("--seccomp-profile=Unconfined is named among the reasons a sandbox needs privileged", () => {
    const required = requiredPodSecurityLevel(render(makeSettings({ seccompProfile: { type: "Unconfined" } })));
    expect(required.reasons).toContain("spec.securityContext.seccompProfile.type is Unconfined");
  });
});

describe("namespace levels", () => {
  const cases: [PodSecurityLevel, PodSecurityLevel, boolean][] = [
    ["privileged", "privileged", true],
    ["privileged", "restricted", true],
    ["baseline", "privileged", false],
    ["baseline", "baseline", true],
    ["baseline", "restricted", true],
    ["restricted", "baseline", false],
    ["restricted", "restricted", true],
  ];
  test.each(cases)("a %s namespace admits a pod that needs %s: %p", (namespace, needed, allowed) => {
    expect(levelAllows(namespace, needed)).toBe(allowed);
  });

  test("a namespace without the enforce label is taken as privileged, and its description says that is an assumption", () => {
    expect(namespaceEnforceLevel({})).toBe("privileged");
    expect(describeNamespaceLevel({})).toContain("assumed privileged");
    expect(describeNamespaceLevel({})).toContain("AdmissionConfiguration");
  });

  test("a labelled namespace enforces its label, and a value admission cannot parse enforces restricted", () => {
    expect(namespaceEnforceLevel({ "pod-security.kubernetes.io/enforce": "baseline" })).toBe("baseline");
    expect(namespaceEnforceLevel({ "pod-security.kubernetes.io/enforce": "strict" })).toBe("restricted");
    expect(describeNamespaceLevel({ "pod-security.kubernetes.io/enforce": "strict" })).toContain("not a level");
  });
});
