// ValidatedSandbox → Sandbox CR. Pure: the same input, settings and namespace annotations always
// give the same object, which is what the golden files in test/unit/golden pin. The layout of the
// pod — containers, init containers, volumes and mounts, and their order — is upstream's
// (`sandbox_to_k8s_spec` and the transforms it applies).

import type { V1Container, V1PodSpec, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { WORKSPACE_PATH } from "./container-paths";
import { buildEnv, setIdentityEnv } from "./env";
import { clientTlsMounts, clientTlsVolumes, saTokenMount, saTokenVolume } from "./gateway-credentials";
import { checkSidecarProxyIdentity, identityAnnotations, resolveSandboxIdentity } from "./identity";
import {
  ANNOTATION_SANDBOX_ID,
  KAGENTI_TYPE_VALUE,
  LABEL_GATEWAY_ID,
  LABEL_KAGENTI_TYPE,
  LABEL_MANAGED_BY,
  LABEL_SANDBOX_ID,
  LABEL_SANDBOX_NAME,
  LABEL_SANDBOX_WORKSPACE,
  MANAGED_BY_VALUE,
} from "./labels";
import { buildAgentResources } from "./resources";
import { combinedAgentSecurityContext, podSecurityContext, sidecarAgentSecurityContext, usesUserNamespaces } from "./security-context";
import type { RenderSettings, SandboxApiVersion, SandboxIdentity } from "./settings";
import {
  applySidecarAgentEnv,
  networkInitContainer,
  networkSupervisorContainer,
  sidecarSharedMounts,
  sidecarVolumes,
} from "./sidecar";
import { supervisorAgentMount, supervisorBinaryInContainer, supervisorInstallContainers, supervisorVolume } from "./supervisor";
import { SANDBOX_GROUP, type SandboxApiGroupVersion, type SandboxResource, type SandboxSpec } from "./types";
import { upstreamProxyArgs, upstreamProxyAuthMounts, upstreamProxyAuthVolumes } from "./upstream-proxy";
import type { ValidatedSandbox } from "./validate";
import { injectsWorkspace, workspaceAgentMount, workspaceClaimTemplates, workspaceInitContainer } from "./workspace-volume";

export { isStopped, lifecyclePatch, stopRejection } from "./lifecycle";

const AGENT_CONTAINER = "agent";

export function sandboxApiGroupVersion(version: SandboxApiVersion): SandboxApiGroupVersion {
  return `${SANDBOX_GROUP}/${version}`;
}

/** What every part of one render needs to agree on. */
interface PodPlan {
  v: ValidatedSandbox;
  settings: RenderSettings;
  identity: SandboxIdentity;
  sidecar: boolean;
  userNamespaces: boolean;
  /** The driver's workspace claim backs /sandbox (no user volume took it over). */
  workspace: boolean;
}

/**
 * `namespaceAnnotations` are the target namespace's: on OpenShift they carry the UID range the
 * sandbox identity comes from. Throws SandboxRequestError (FAILED_PRECONDITION) when the sidecar
 * proxy UID would equal that identity.
 */
export function renderSandbox(
  v: ValidatedSandbox,
  settings: RenderSettings,
  namespaceAnnotations: Record<string, string> = {},
): SandboxResource {
  const { sandbox } = v;
  const identity = resolveSandboxIdentity(settings, namespaceAnnotations);
  checkSidecarProxyIdentity(settings, identity);
  const plan: PodPlan = {
    v,
    settings,
    identity,
    sidecar: settings.supervisorTopology === "sidecar",
    userNamespaces: usesUserNamespaces(v.platformConfig, settings),
    workspace: injectsWorkspace(v.driverConfig),
  };

  // Create sets neither operatingMode nor replicas: the API defaults them to Running / 1.
  const spec: SandboxSpec = {
    podTemplate: {
      metadata: {
        // The controller copies podTemplate labels onto the pod, so these let the driver select
        // its pods by label (upstream adds them only with SPIFFE, which leaves pods unselectable).
        labels: {
          ...sandbox.spec?.template?.labels,
          [LABEL_SANDBOX_ID]: sandbox.id,
          [LABEL_MANAGED_BY]: MANAGED_BY_VALUE,
          [LABEL_GATEWAY_ID]: settings.gatewayId,
        },
        // Driver's id wins over a user annotation of the same key: the gateway authenticates by it.
        annotations: { ...v.platformConfig.annotations, [ANNOTATION_SANDBOX_ID]: sandbox.id },
      },
      spec: renderPodSpec(plan),
    },
  };
  const agentSocket = sandbox.spec?.template?.agentSocketPath ?? "";
  if (agentSocket !== "") spec.agentSocket = agentSocket;
  if (plan.workspace) spec.volumeClaimTemplates = workspaceClaimTemplates(settings);

  return {
    apiVersion: sandboxApiGroupVersion(settings.apiVersion),
    kind: "Sandbox",
    metadata: {
      name: v.kubeName,
      namespace: v.namespace,
      labels: {
        [LABEL_SANDBOX_ID]: sandbox.id,
        [LABEL_SANDBOX_NAME]: sandbox.name,
        [LABEL_SANDBOX_WORKSPACE]: sandbox.workspace,
        [LABEL_MANAGED_BY]: MANAGED_BY_VALUE,
        [LABEL_GATEWAY_ID]: settings.gatewayId,
        [LABEL_KAGENTI_TYPE]: KAGENTI_TYPE_VALUE,
      },
      // Upstream's authoritative copies of the identity labels (`sandbox_annotations`), read before
      // the labels; openshell.io/sandbox-id is kept for CRs this driver created before them.
      annotations: {
        [ANNOTATION_SANDBOX_ID]: sandbox.id,
        [LABEL_SANDBOX_ID]: sandbox.id,
        [LABEL_SANDBOX_NAME]: sandbox.name,
        [LABEL_SANDBOX_WORKSPACE]: sandbox.workspace,
        ...identityAnnotations(settings, namespaceAnnotations),
      },
    },
    spec,
  };
}

function renderPodSpec(plan: PodPlan): V1PodSpec {
  const { v, settings, identity } = plan;
  const { driverConfig: dc, platformConfig: pc } = v;
  const spec: Omit<V1PodSpec, "containers"> = { restartPolicy: "Never", automountServiceAccountToken: false };
  if (settings.serviceAccountName !== "") spec.serviceAccountName = settings.serviceAccountName;
  const pullSecrets = settings.imagePullSecrets.map((s) => s.trim()).filter((s) => s !== "");
  if (pullSecrets.length > 0) spec.imagePullSecrets = pullSecrets.map((name) => ({ name }));

  const runtimeClassName = pc.runtimeClassName || dc.pod.runtimeClassName || settings.runtimeClassName;
  if (runtimeClassName) spec.runtimeClassName = runtimeClassName;

  const nodeSelector: Record<string, string> = { ...pc.nodeSelector };
  for (const [key, value] of Object.entries(dc.pod.nodeSelector)) nodeSelector[key] ??= value;
  if (Object.keys(nodeSelector).length > 0) spec.nodeSelector = nodeSelector;
  const tolerations = [...pc.tolerations, ...dc.pod.tolerations];
  if (tolerations.length > 0) spec.tolerations = tolerations;
  if (dc.pod.priorityClassName) spec.priorityClassName = dc.pod.priorityClassName;
  if (plan.userNamespaces) spec.hostUsers = false;
  if (settings.hostGatewayIp !== "") {
    spec.hostAliases = [{ ip: settings.hostGatewayIp, hostnames: ["host.docker.internal", "host.openshell.internal"] }];
  }
  // Both supervisors of the sidecar topology see the workload's processes.
  if (plan.sidecar) spec.shareProcessNamespace = true;
  // Sidecar: kubelet gives mounted volumes this group, so the supervisors, running as the sandbox
  // group, read the group-readable credentials, and the workload its workspace; the credentials
  // are mounted only into the supervisor containers. Combined: no fsGroup. kubelet's fsGroup rule
  // (pkg/volume SetVolumeOwnership, called by the Secret and projected plug-ins after AtomicWriter
  // writes the files) chowns every file of every volume to the fsGroup and ORs in 0440 (0660 for
  // writable volumes), whatever `defaultMode` says, so the client-TLS key (one for every sandbox)
  // and the ServiceAccount token would be readable by the workload, which runs as the sandbox group
  // in the same container as the root supervisor. The workspace claim is made the sandbox user's by
  // workspace-init instead (workspace-volume.ts).
  const podContext = podSecurityContext(plan.sidecar ? identity.gid : undefined, settings);
  if (podContext) spec.securityContext = podContext;

  const initContainers = [
    ...supervisorInstallContainers(settings),
    ...(plan.sidecar ? [networkInitContainer(settings, identity)] : []),
    ...(plan.workspace ? [workspaceInitContainer(v.image, settings, identity)] : []),
  ];
  return {
    ...spec,
    ...(initContainers.length > 0 ? { initContainers } : {}),
    containers: [
      renderAgentContainer(plan),
      ...(plan.sidecar ? [networkSupervisorContainer(v.sandbox, settings, identity)] : []),
    ],
    volumes: renderVolumes(plan),
  };
}

function renderAgentContainer(plan: PodPlan): V1Container {
  const { v, settings, identity } = plan;
  const binary = supervisorBinaryInContainer(settings);
  const env = buildEnv(v.sandbox, settings);
  if (plan.sidecar) applySidecarAgentEnv(env);
  setIdentityEnv(env, identity);

  const container: V1Container = {
    name: AGENT_CONTAINER,
    image: v.image,
    ...(settings.imagePullPolicy !== "" ? { imagePullPolicy: settings.imagePullPolicy } : {}),
    // Sidecar: the process supervisor only; the proxy and its arguments live in the network sidecar.
    command: plan.sidecar
      ? [binary, "--mode=process", "--workdir", WORKSPACE_PATH]
      : [binary, "--workdir", WORKSPACE_PATH, ...upstreamProxyArgs(settings)],
    securityContext: plan.sidecar
      ? sidecarAgentSecurityContext(identity, settings)
      : combinedAgentSecurityContext(plan.userNamespaces, settings),
    env: env.toList(),
  };
  const resources = buildAgentResources(v);
  if (resources) container.resources = resources;

  const userMounts = v.driverConfig.agent.volumeMounts.map((m): V1VolumeMount => {
    const mount: V1VolumeMount = { name: m.name, mountPath: m.mountPath, readOnly: m.readOnly };
    if (m.subPath !== undefined) mount.subPath = m.subPath;
    return mount;
  });
  container.volumeMounts = [
    // Sidecar: gateway credentials stay with the network supervisor.
    ...(plan.sidecar ? [] : [...clientTlsMounts(settings), saTokenMount()]),
    ...userMounts,
    supervisorAgentMount(settings),
    ...(plan.sidecar ? sidecarSharedMounts() : upstreamProxyAuthMounts(settings)),
    ...(plan.workspace ? [workspaceAgentMount()] : []),
  ];
  return container;
}

/** The workspace claim's volume is not listed: the controller adds it from volumeClaimTemplates. */
function renderVolumes(plan: PodPlan): V1Volume[] {
  const { v, settings } = plan;
  return [
    ...clientTlsVolumes(settings),
    ...upstreamProxyAuthVolumes(settings),
    saTokenVolume(settings),
    ...v.driverConfig.volumes.map(
      (vol): V1Volume => ({
        name: vol.name,
        persistentVolumeClaim: { claimName: vol.claimName, readOnly: vol.readOnly },
      }),
    ),
    supervisorVolume(settings),
    ...(plan.sidecar ? sidecarVolumes() : []),
  ];
}
