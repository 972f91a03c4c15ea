// Who can read the gateway credentials inside a sandbox pod, by the kubelet rules that decide it
// (no kubelet runs here, so the rules are modelled and named):
// - AtomicWriter writes each file of a Secret or projected volume as root:root with the volume's
//   `defaultMode` (a projected ServiceAccount token gets 0600 when an fsGroup is set);
// - then SetVolumeOwnership (pkg/volume/volume_linux.go), called by the Secret and projected
//   plug-ins whenever the pod has `securityContext.fsGroup`, chowns every file to group fsGroup and
//   ORs in roMask 0440 (these volumes are read-only), whatever defaultMode said;
// - the workload runs as OPENSHELL_SANDBOX_UID/GID; in the combined topology it shares the agent
//   container (and so its mounts) with the root supervisor; in the sidecar topology the
//   credentials are mounted only into the supervisor containers.
import { describe, expect, test } from "bun:test";
import type { V1Container, V1PodSpec, V1Volume } from "@kubernetes/client-node";
import { renderSandbox, validateSandbox } from "../../src/sandbox";
import { CLIENT_TLS_VOLUME, SA_TOKEN_VOLUME } from "../../src/sandbox/gateway-credentials";
import type { RenderSettings } from "../../src/sandbox/settings";
import { makeSandbox, makeSettings } from "./fixtures";

interface FileStat {
  uid: number;
  gid: number;
  mode: number;
}

const RO_MASK = 0o440;

/** The owner and mode kubelet gives a file of this Secret or projected volume. */
function kubeletFile(pod: V1PodSpec, volume: V1Volume): FileStat {
  const fsGroup = pod.securityContext?.fsGroup;
  const defaultMode = volume.secret?.defaultMode ?? volume.projected?.defaultMode ?? 0o644;
  const isToken = volume.projected?.sources?.some((s) => s.serviceAccountToken) ?? false;
  const written = isToken && fsGroup !== undefined ? 0o600 : defaultMode;
  if (fsGroup === undefined) return { uid: 0, gid: 0, mode: written };
  return { uid: 0, gid: fsGroup, mode: written | RO_MASK };
}

/** Plain DAC for a non-root reader holding one group. */
function readable(file: FileStat, uid: number, gid: number): boolean {
  if (uid === file.uid) return (file.mode & 0o400) !== 0;
  if (gid === file.gid) return (file.mode & 0o040) !== 0;
  return (file.mode & 0o004) !== 0;
}

function workloadOf(agent: V1Container): { uid: number; gid: number } {
  const env = Object.fromEntries((agent.env ?? []).map((e) => [e.name, e.value]));
  return { uid: Number(env.OPENSHELL_SANDBOX_UID), gid: Number(env.OPENSHELL_SANDBOX_GID) };
}

/** The credential files the workload can read: mounted into the agent container and readable by its ids. */
function credentialsTheWorkloadReads(settings: RenderSettings, annotations: Record<string, string> = {}): string[] {
  const pod = renderSandbox(validateSandbox(makeSandbox(), settings), settings, annotations).spec.podTemplate.spec;
  const agent = pod.containers.find((c) => c.name === "agent")!;
  const { uid, gid } = workloadOf(agent);
  const mounted = new Set((agent.volumeMounts ?? []).map((m) => m.name));
  return (pod.volumes ?? [])
    .filter((v) => [CLIENT_TLS_VOLUME, SA_TOKEN_VOLUME].includes(v.name) && mounted.has(v.name))
    .filter((v) => readable(kubeletFile(pod, v), uid, gid))
    .map((v) => v.name);
}

const TLS = { clientTlsSecretName: "openshell-client-tls" };
const OPENSHIFT = { "openshift.io/sa.scc.uid-range": "1000680000/10000", "openshift.io/sa.scc.supplemental-groups": "1000680000/10000" };

describe("the workload cannot read the gateway credentials (kubelet SetVolumeOwnership and AtomicWriter rules)", () => {
  test("the model can fail: with the pod's fsGroup set to the sandbox GID, kubelet makes the 0400 key 0440 in the workload's group", () => {
    const settings = makeSettings(TLS);
    const pod = renderSandbox(validateSandbox(makeSandbox(), settings), settings).spec.podTemplate.spec;
    const tls = pod.volumes!.find((v) => v.name === CLIENT_TLS_VOLUME)!;
    expect(tls.secret?.defaultMode).toBe(0o400);
    const withFsGroup = { ...pod, securityContext: { fsGroup: 1000 } };
    expect(readable(kubeletFile(withFsGroup, tls), 1000, 1000)).toBe(true);
  });

  test("combined topology: no fsGroup, so the client-TLS key and the token stay root:root 0400 and the workload reads neither", () => {
    expect(credentialsTheWorkloadReads(makeSettings(TLS))).toEqual([]);
  });

  test("combined topology on OpenShift (identity from the namespace's ranges): the same", () => {
    expect(credentialsTheWorkloadReads(makeSettings(TLS), OPENSHIFT)).toEqual([]);
  });

  test("combined topology with user namespaces: the same", () => {
    expect(credentialsTheWorkloadReads(makeSettings({ ...TLS, enableUserNamespaces: true }))).toEqual([]);
  });

  test("sidecar topology: the pod keeps its fsGroup, but the credentials are not mounted into the workload's container", () => {
    const settings = makeSettings({ ...TLS, supervisorTopology: "sidecar" });
    const pod = renderSandbox(validateSandbox(makeSandbox(), settings), settings).spec.podTemplate.spec;
    expect(pod.securityContext?.fsGroup).toBeDefined();
    expect(credentialsTheWorkloadReads(settings)).toEqual([]);
  });
});
