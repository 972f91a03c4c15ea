import { describe, expect, test } from "bun:test";
import type { V1Container, V1PodSpec } from "@kubernetes/client-node";
import { fitsScc } from "../../src/platform/openshift/fits-scc";
import type { SecurityContextConstraints } from "../../src/platform/openshift/scc";
import { podAsCreated } from "../../src/platform/pod-as-created";
import type { SandboxResource } from "../../src/sandbox/types";

/** Allows everything but privilege and the host, so each test turns on only the rule it checks. */
function scc(overrides: Partial<SecurityContextConstraints> = {}): SecurityContextConstraints {
  return {
    metadata: { name: "test" },
    allowPrivilegedContainer: false,
    allowedCapabilities: [],
    defaultAddCapabilities: null,
    requiredDropCapabilities: null,
    allowHostDirVolumePlugin: false,
    allowHostIPC: false,
    allowHostNetwork: false,
    allowHostPID: false,
    allowHostPorts: false,
    readOnlyRootFilesystem: false,
    runAsUser: { type: "RunAsAny" },
    seLinuxContext: { type: "RunAsAny" },
    fsGroup: { type: "RunAsAny" },
    supplementalGroups: { type: "RunAsAny" },
    seccompProfiles: ["*"],
    volumes: ["*"],
    ...overrides,
  };
}

function pod(agent: Omit<V1Container, "name"> = {}, extra: Partial<V1PodSpec> = {}): V1PodSpec {
  return { containers: [{ name: "agent", image: "agent", ...agent }], ...extra };
}

const OPENSHIFT_NAMESPACE = {
  "openshift.io/sa.scc.uid-range": "1000680000/10000",
  "openshift.io/sa.scc.supplemental-groups": "1000680000/10000",
  "openshift.io/sa.scc.mcs": "s0:c26,c10",
};

function fieldsOf(p: V1PodSpec, s: SecurityContextConstraints, annotations: Record<string, string> = OPENSHIFT_NAMESPACE): string[] {
  return fitsScc(p, s, annotations).map((m) => m.field);
}

describe("privileged containers", () => {
  test("a privileged container does not fit an SCC without allowPrivilegedContainer, and fits one with it", () => {
    const privileged = pod({ securityContext: { privileged: true } });
    expect(fitsScc(privileged, scc(), {})).toEqual([
      { field: "spec.containers[agent].securityContext.privileged", message: 'SCC "test" does not allow privileged containers' },
    ]);
    expect(fieldsOf(privileged, scc({ allowPrivilegedContainer: true }))).toEqual([]);
  });
});

describe("capabilities", () => {
  test("a pod that adds SYS_ADMIN does not fit restricted-style capabilities, and the misfit names the container's capability", () => {
    const p = pod({ securityContext: { capabilities: { add: ["SYS_ADMIN"] } } });
    expect(fitsScc(p, scc({ allowedCapabilities: ["NET_BIND_SERVICE"], requiredDropCapabilities: ["ALL"] }), {})).toEqual([
      {
        field: "spec.containers[agent].securityContext.capabilities.add[SYS_ADMIN]",
        message: 'SCC "test" allows only capabilities [NET_BIND_SERVICE]',
      },
    ]);
  });

  test("an allowed capability may be added even when the SCC requires dropping ALL", () => {
    const p = pod({ securityContext: { capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] } } });
    expect(fieldsOf(p, scc({ allowedCapabilities: ["NET_BIND_SERVICE"], requiredDropCapabilities: ["ALL"] }))).toEqual([]);
  });

  test("a wildcard allows any capability, and a default-added one is admitted because admission adds it anyway", () => {
    const p = pod({ securityContext: { capabilities: { add: ["SYS_ADMIN"] } } });
    expect(fieldsOf(p, scc({ allowedCapabilities: ["*"] }))).toEqual([]);
    expect(fieldsOf(p, scc({ defaultAddCapabilities: ["SYS_ADMIN"] }))).toEqual([]);
  });

  test("a capability the SCC requires dropping may not be added, and the message says so", () => {
    const p = pod({ securityContext: { capabilities: { add: ["MKNOD"] } } });
    expect(fitsScc(p, scc({ requiredDropCapabilities: ["MKNOD"] }), {})).toEqual([
      { field: "spec.containers[agent].securityContext.capabilities.add[MKNOD]", message: 'SCC "test" requires dropping MKNOD' },
    ]);
  });

  test("init containers are checked like containers, by name", () => {
    const p = pod({}, { initContainers: [{ name: "net-init", securityContext: { capabilities: { add: ["NET_ADMIN"] } } }] });
    expect(fitsScc(p, scc(), {})).toEqual([
      { field: "spec.initContainers[net-init].securityContext.capabilities.add[NET_ADMIN]", message: 'SCC "test" allows adding no capabilities' },
    ]);
  });
});

describe("runAsUser", () => {
  const range = scc({ runAsUser: { type: "MustRunAsRange" } });

  test("a root init container does not fit MustRunAsRange, and the message gives the namespace range", () => {
    const p = pod({}, { initContainers: [{ name: "workspace-init", securityContext: { runAsUser: 0 } }] });
    expect(fitsScc(p, range, OPENSHIFT_NAMESPACE)).toEqual([
      {
        field: "spec.initContainers[workspace-init].securityContext.runAsUser",
        message: "runAsUser 0 is outside the namespace range 1000680000-1000689999 (MustRunAsRange)",
      },
    ]);
  });

  test("an unset runAsUser fits MustRunAsRange because admission defaults it to the range start; one inside fits too", () => {
    expect(fieldsOf(pod(), range)).toEqual([]);
    expect(fieldsOf(pod({ securityContext: { runAsUser: 1000689999 } }), range)).toEqual([]);
  });

  test("a pod-level runAsUser every container inherits is reported once, at the pod", () => {
    const p: V1PodSpec = { securityContext: { runAsUser: 0 }, containers: [{ name: "a" }, { name: "b" }] };
    expect(fieldsOf(p, range)).toEqual(["spec.securityContext.runAsUser"]);
  });

  test("the SCC's own uidRangeMin/Max win over the namespace range", () => {
    const own = scc({ runAsUser: { type: "MustRunAsRange", uidRangeMin: 1000, uidRangeMax: 2000 } });
    expect(fieldsOf(pod({ securityContext: { runAsUser: 1500 } }), own, {})).toEqual([]);
    expect(fitsScc(pod({ securityContext: { runAsUser: 1000680000 } }), own, {})[0]?.message).toBe(
      'runAsUser 1000680000 is outside SCC "test" range 1000-2000 (MustRunAsRange)',
    );
  });

  test("a namespace without a usable uid-range annotation makes a range SCC unusable, naming the annotation", () => {
    const field = "namespace.metadata.annotations[openshift.io/sa.scc.uid-range]";
    expect(fieldsOf(pod(), range, {})).toEqual([field]);
    expect(fitsScc(pod(), range, { "openshift.io/sa.scc.uid-range": "lots" })).toEqual([
      { field, message: '"lots" is not of the form start/size' },
    ]);
  });

  test("MustRunAs admits only its uid, and an unset runAsUser", () => {
    const fixed = scc({ runAsUser: { type: "MustRunAs", uid: 1000 } });
    expect(fieldsOf(pod({ securityContext: { runAsUser: 1000 } }), fixed)).toEqual([]);
    expect(fieldsOf(pod(), fixed)).toEqual([]);
    expect(fitsScc(pod({ securityContext: { runAsUser: 1001 } }), fixed, {})).toEqual([
      { field: "spec.containers[agent].securityContext.runAsUser", message: 'runAsUser 1001 is not 1000, the uid SCC "test" requires (MustRunAs)' },
    ]);
  });

  test("MustRunAsNonRoot refuses UID 0 and runAsNonRoot=false, and admits a non-zero or unset UID", () => {
    const nonRoot = scc({ runAsUser: { type: "MustRunAsNonRoot" } });
    expect(fieldsOf(pod({ securityContext: { runAsUser: 0 } }), nonRoot)).toEqual(["spec.containers[agent].securityContext.runAsUser"]);
    expect(fieldsOf(pod({ securityContext: { runAsNonRoot: false } }), nonRoot)).toEqual(["spec.containers[agent].securityContext.runAsNonRoot"]);
    expect(fieldsOf(pod({ securityContext: { runAsUser: 1000 } }), nonRoot)).toEqual([]);
    expect(fieldsOf(pod({ securityContext: { runAsNonRoot: true } }), nonRoot)).toEqual([]);
    expect(fieldsOf(pod(), nonRoot)).toEqual([]);
  });

  test("RunAsAny admits root", () => {
    expect(fieldsOf(pod({ securityContext: { runAsUser: 0 } }), scc())).toEqual([]);
  });
});

describe("fsGroup and supplementalGroups", () => {
  const fsGroup = scc({ fsGroup: { type: "MustRunAs" } });

  test("fsGroup MustRunAs from the namespace admits only the first supplemental-groups ID", () => {
    expect(fieldsOf(pod({}, { securityContext: { fsGroup: 1000680000 } }), fsGroup)).toEqual([]);
    expect(fieldsOf(pod(), fsGroup)).toEqual([]);
    expect(fitsScc(pod({}, { securityContext: { fsGroup: 1000680005 } }), fsGroup, OPENSHIFT_NAMESPACE)).toEqual([
      {
        field: "spec.securityContext.fsGroup",
        message:
          "fsGroup 1000680005 is not 1000680000, the first ID of the namespace's openshift.io/sa.scc.supplemental-groups, the one fsGroup it pre-allocates (MustRunAs)",
      },
    ]);
  });

  test("fsGroup MustRunAs with its own ranges ignores the namespace", () => {
    const own = scc({ fsGroup: { type: "MustRunAs", ranges: [{ min: 5, max: 10 }] } });
    expect(fieldsOf(pod({}, { securityContext: { fsGroup: 7 } }), own, {})).toEqual([]);
    expect(fieldsOf(pod({}, { securityContext: { fsGroup: 11 } }), own, {})).toEqual(["spec.securityContext.fsGroup"]);
  });

  test("without a supplemental-groups annotation the uid-range is used; without either the annotation is the misfit", () => {
    const uidOnly = { "openshift.io/sa.scc.uid-range": "2000/10" };
    expect(fieldsOf(pod({}, { securityContext: { fsGroup: 2000 } }), fsGroup, uidOnly)).toEqual([]);
    expect(fieldsOf(pod(), fsGroup, {})).toEqual(["namespace.metadata.annotations[openshift.io/sa.scc.supplemental-groups]"]);
  });

  test("supplementalGroups MustRunAs admits any block of a comma-separated annotation and names a group outside them", () => {
    const groups = scc({ supplementalGroups: { type: "MustRunAs" } });
    const annotations = { "openshift.io/sa.scc.supplemental-groups": "1000/10,2000/10" };
    expect(fieldsOf(pod({}, { securityContext: { supplementalGroups: [1005, 2009] } }), groups, annotations)).toEqual([]);
    expect(fieldsOf(pod({}, { securityContext: { supplementalGroups: [1005, 1500] } }), groups, annotations)).toEqual([
      "spec.securityContext.supplementalGroups[1500]",
    ]);
  });

  test("RunAsAny admits any group", () => {
    expect(fieldsOf(pod({}, { securityContext: { fsGroup: 0, supplementalGroups: [0] } }), scc(), {})).toEqual([]);
  });
});

describe("SELinux", () => {
  const seLinux = scc({ seLinuxContext: { type: "MustRunAs" } });

  test("a level equal to the namespace's MCS fits whatever the category order; another level does not", () => {
    expect(fieldsOf(pod({ securityContext: { seLinuxOptions: { level: "s0:c10,c26" } } }), seLinux)).toEqual([]);
    expect(fieldsOf(pod(), seLinux)).toEqual([]);
    expect(fitsScc(pod({}, { securityContext: { seLinuxOptions: { level: "s0:c1,c2" } } }), seLinux, OPENSHIFT_NAMESPACE)).toEqual([
      { field: "spec.securityContext.seLinuxOptions.level", message: 'level "s0:c1,c2" is not the namespace\'s "s0:c26,c10" (MustRunAs)' },
    ]);
  });

  test("a type other than the one the SCC sets does not fit", () => {
    const typed = scc({ seLinuxContext: { type: "MustRunAs", seLinuxOptions: { type: "container_t" } } });
    expect(fieldsOf(pod({ securityContext: { seLinuxOptions: { type: "spc_t" } } }), typed)).toEqual([
      "spec.containers[agent].securityContext.seLinuxOptions.type",
    ]);
    expect(fieldsOf(pod({ securityContext: { seLinuxOptions: { type: "container_t" } } }), typed)).toEqual([]);
  });

  test("a namespace without an MCS annotation makes MustRunAs unusable, naming the annotation", () => {
    expect(fieldsOf(pod(), seLinux, {})).toEqual(["namespace.metadata.annotations[openshift.io/sa.scc.mcs]"]);
  });
});

describe("seccomp", () => {
  const runtimeDefault = scc({ seccompProfiles: ["runtime/default"] });

  test("RuntimeDefault or no profile fits runtime/default; Unconfined does not, and the message lists the allowed", () => {
    expect(fieldsOf(pod({}, { securityContext: { seccompProfile: { type: "RuntimeDefault" } } }), runtimeDefault)).toEqual([]);
    expect(fieldsOf(pod(), runtimeDefault)).toEqual([]);
    expect(fitsScc(pod({ securityContext: { seccompProfile: { type: "Unconfined" } } }), runtimeDefault, {})).toEqual([
      {
        field: "spec.containers[agent].securityContext.seccompProfile",
        message: 'seccomp profile unconfined is not allowed: SCC "test" allows only [runtime/default]',
      },
    ]);
  });

  test("a Localhost profile fits its localhost/<file> entry, and legacy docker/default means runtime/default", () => {
    const localhost = pod({ securityContext: { seccompProfile: { type: "Localhost", localhostProfile: "sandbox.json" } } });
    expect(fieldsOf(localhost, scc({ seccompProfiles: ["localhost/sandbox.json"] }))).toEqual([]);
    expect(fieldsOf(localhost, runtimeDefault)).toEqual(["spec.containers[agent].securityContext.seccompProfile"]);
    const runtime = pod({ securityContext: { seccompProfile: { type: "RuntimeDefault" } } });
    expect(fieldsOf(runtime, scc({ seccompProfiles: ["docker/default"] }))).toEqual([]);
  });

  test("an SCC with no profiles refuses a named one; a wildcard admits any", () => {
    const unconfined = pod({}, { securityContext: { seccompProfile: { type: "Unconfined" } } });
    expect(fieldsOf(unconfined, scc({ seccompProfiles: null }))).toEqual(["spec.securityContext.seccompProfile"]);
    expect(fieldsOf(unconfined, scc())).toEqual([]);
  });
});

describe("allowPrivilegeEscalation", () => {
  test("an explicit true does not fit an SCC that forbids escalation; unset and false fit", () => {
    const noEscalation = scc({ allowPrivilegeEscalation: false });
    expect(fieldsOf(pod({ securityContext: { allowPrivilegeEscalation: true } }), noEscalation)).toEqual([
      "spec.containers[agent].securityContext.allowPrivilegeEscalation",
    ]);
    expect(fieldsOf(pod(), noEscalation)).toEqual([]);
    expect(fieldsOf(pod({ securityContext: { allowPrivilegeEscalation: false } }), noEscalation)).toEqual([]);
  });

  test("SYS_ADMIN with escalation left unset does not fit an SCC that defaults it to false, which Kubernetes then refuses", () => {
    const sysAdmin = pod({ securityContext: { capabilities: { add: ["SYS_ADMIN"] } } });
    expect(fieldsOf(sysAdmin, scc({ allowedCapabilities: ["SYS_ADMIN"], allowPrivilegeEscalation: false }))).toEqual([
      "spec.containers[agent].securityContext.allowPrivilegeEscalation",
    ]);
    expect(fieldsOf(sysAdmin, scc({ allowedCapabilities: ["SYS_ADMIN"], allowPrivilegeEscalation: true }))).toEqual([]);
  });
});

describe("host namespaces and ports", () => {
  test("host network, PID and IPC each need their SCC permission, and the misfit names the pod field", () => {
    const host = pod({}, { hostNetwork: true, hostPID: true, hostIPC: true });
    expect(fieldsOf(host, scc())).toEqual(["spec.hostNetwork", "spec.hostPID", "spec.hostIPC"]);
    expect(fieldsOf(host, scc({ allowHostNetwork: true, allowHostPID: true, allowHostIPC: true }))).toEqual([]);
  });

  test("a host port needs allowHostPorts, and the misfit names the container's port", () => {
    const hostPort = pod({ ports: [{ name: "http", containerPort: 8080, hostPort: 80 }, { containerPort: 9090 }] });
    expect(fitsScc(hostPort, scc(), {})).toEqual([
      { field: "spec.containers[agent].ports[http].hostPort", message: 'SCC "test" does not allow host ports (allowHostPorts: false)' },
    ]);
    expect(fieldsOf(hostPort, scc({ allowHostPorts: true }))).toEqual([]);
  });

  test("RequirePodLevel refuses a pod that keeps the host's user namespace", () => {
    const level = scc({ userNamespaceLevel: "RequirePodLevel" });
    expect(fieldsOf(pod(), level)).toEqual(["spec.hostUsers"]);
    expect(fieldsOf(pod({}, { hostUsers: false }), level)).toEqual([]);
  });
});

describe("volumes", () => {
  test("a volume type the SCC does not list does not fit, and the message lists what it allows", () => {
    const p = pod({}, { volumes: [{ name: "cfg", configMap: { name: "cfg" } }, { name: "tmp", emptyDir: {} }] });
    expect(fitsScc(p, scc({ volumes: ["emptyDir", "secret"] }), {})).toEqual([
      { field: "spec.volumes[cfg].configMap", message: 'SCC "test" allows only volumes [emptyDir, secret]' },
    ]);
  });

  test("a wildcard admits every type, `none` admits none", () => {
    const p = pod({}, { volumes: [{ name: "img", image: { reference: "x" } }] });
    expect(fieldsOf(p, scc({ volumes: ["*"] }))).toEqual([]);
    expect(fitsScc(p, scc({ volumes: ["none"] }), {})).toEqual([
      { field: "spec.volumes[img].image", message: 'SCC "test" allows no volumes' },
    ]);
  });

  test("hostPath needs allowHostDirVolumePlugin even when the volume list allows it", () => {
    const p = pod({}, { volumes: [{ name: "host", hostPath: { path: "/" } }] });
    expect(fitsScc(p, scc(), {})).toEqual([
      { field: "spec.volumes[host].hostPath", message: 'SCC "test" does not allow hostPath volumes (allowHostDirVolumePlugin: false)' },
    ]);
    expect(fieldsOf(p, scc({ allowHostDirVolumePlugin: true }))).toEqual([]);
  });
});

describe("readOnlyRootFilesystem", () => {
  test("an SCC that requires a read-only root refuses a container that asks for a writable one, and defaults the rest", () => {
    const readOnly = scc({ readOnlyRootFilesystem: true });
    expect(fieldsOf(pod({ securityContext: { readOnlyRootFilesystem: false } }), readOnly)).toEqual([
      "spec.containers[agent].securityContext.readOnlyRootFilesystem",
    ]);
    expect(fieldsOf(pod(), readOnly)).toEqual([]);
  });
});

describe("podAsCreated", () => {
  function sandbox(volumeClaimTemplates?: unknown[], volumes?: V1PodSpec["volumes"]): SandboxResource {
    return {
      apiVersion: "agents.x-k8s.io/v1beta1",
      kind: "Sandbox",
      metadata: { name: "demo", namespace: "ns" },
      spec: { podTemplate: { spec: { containers: [{ name: "agent" }], volumes } }, volumeClaimTemplates },
    };
  }

  test("each volume claim template becomes the PVC volume the controller adds, claim named <template>-<sandbox>", () => {
    const created = podAsCreated(sandbox([{ metadata: { name: "workspace" } }], [{ name: "tmp", emptyDir: {} }]));
    expect(created.volumes).toEqual([
      { name: "tmp", emptyDir: {} },
      { name: "workspace", persistentVolumeClaim: { claimName: "workspace-demo" } },
    ]);
  });

  test("a template volume of the same name is replaced, as the controller merges by name; no templates leave the spec as it is", () => {
    const created = podAsCreated(sandbox([{ metadata: { name: "workspace" } }], [{ name: "workspace", emptyDir: {} }]));
    expect(created.volumes).toEqual([{ name: "workspace", persistentVolumeClaim: { claimName: "workspace-demo" } }]);
    expect(podAsCreated(sandbox())).toEqual({ containers: [{ name: "agent" }] });
  });
});
