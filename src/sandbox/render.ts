// ValidatedSandbox → Sandbox CR. Pure: the same input and settings always give the same object,
// which is what the golden files in test/unit/golden pin.

import type { V1Container, V1PodSpec, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { buildEnv, SA_TOKEN_DIR } from "./env";
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
import { WORKSPACE_PATH } from "./mount-path";
import { buildAgentResources } from "./resources";
import type { RenderSettings, SandboxApiVersion } from "./settings";
import {
  supervisorAgentMount,
  supervisorBinaryInContainer,
  supervisorInitContainers,
  supervisorVolume,
} from "./supervisor";
import { SANDBOX_GROUP, type SandboxApiGroupVersion, type SandboxResource } from "./types";
import type { ValidatedSandbox } from "./validate";

export { isStopped, lifecyclePatch, stopRejection } from "./lifecycle";

export const AGENT_CONTAINER = "agent";
export const SA_TOKEN_VOLUME = "openshell-sa-token";
/** Audience the gateway's TokenReview demands (`auth/k8s_sa.rs`). */
export const SA_TOKEN_AUDIENCE = "openshell-gateway";
export const SA_TOKEN_TTL_SECONDS = 3600;
export const AGENT_CAPABILITIES = ["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYSLOG"];

export function sandboxApiGroupVersion(version: SandboxApiVersion): SandboxApiGroupVersion {
  return `${SANDBOX_GROUP}/${version}`;
}

export function renderSandbox(v: ValidatedSandbox, settings: RenderSettings): SandboxResource {
  const { sandbox } = v;
  // Create sets neither operatingMode nor replicas: the API defaults them to Running / 1.
  return {
    apiVersion: sandboxApiGroupVersion(settings.apiVersion),
    kind: "Sandbox",
    metadata: {
      name: v.kubeName,
      namespace: settings.namespace,
      labels: {
        [LABEL_SANDBOX_ID]: sandbox.id,
        [LABEL_SANDBOX_NAME]: sandbox.name,
        [LABEL_SANDBOX_WORKSPACE]: sandbox.workspace,
        [LABEL_MANAGED_BY]: MANAGED_BY_VALUE,
        [LABEL_GATEWAY_ID]: settings.gatewayId,
        [LABEL_KAGENTI_TYPE]: KAGENTI_TYPE_VALUE,
      },
      annotations: { [ANNOTATION_SANDBOX_ID]: sandbox.id },
    },
    spec: {
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
        spec: renderPodSpec(v, settings),
      },
    },
  };
}

function renderPodSpec(v: ValidatedSandbox, settings: RenderSettings): V1PodSpec {
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
  if (pc.hostUsers === false) spec.hostUsers = false;

  const initContainers = supervisorInitContainers(settings);
  return {
    ...spec,
    ...(initContainers.length > 0 ? { initContainers } : {}),
    containers: [renderAgentContainer(v, settings)],
    volumes: renderVolumes(v, settings),
  };
}

function renderAgentContainer(v: ValidatedSandbox, settings: RenderSettings): V1Container {
  const container: V1Container = {
    name: AGENT_CONTAINER,
    image: v.image,
    ...(settings.imagePullPolicy !== "" ? { imagePullPolicy: settings.imagePullPolicy } : {}),
    command: [supervisorBinaryInContainer(settings), "--workdir", WORKSPACE_PATH],
    securityContext: { runAsUser: 0, capabilities: { add: [...AGENT_CAPABILITIES] } },
    env: buildEnv(v.sandbox, settings),
  };
  const resources = buildAgentResources(v);
  if (resources) container.resources = resources;

  const mounts: V1VolumeMount[] = [{ name: SA_TOKEN_VOLUME, mountPath: SA_TOKEN_DIR, readOnly: true }];
  for (const m of v.driverConfig.agent.volumeMounts) {
    const mount: V1VolumeMount = { name: m.name, mountPath: m.mountPath, readOnly: m.readOnly };
    if (m.subPath !== undefined) mount.subPath = m.subPath;
    mounts.push(mount);
  }
  mounts.push(supervisorAgentMount(settings));
  container.volumeMounts = mounts;
  return container;
}

function renderVolumes(v: ValidatedSandbox, settings: RenderSettings): V1Volume[] {
  return [
    {
      name: SA_TOKEN_VOLUME,
      projected: {
        sources: [
          {
            serviceAccountToken: {
              audience: SA_TOKEN_AUDIENCE,
              expirationSeconds: SA_TOKEN_TTL_SECONDS,
              path: "token",
            },
          },
        ],
        defaultMode: 0o400,
      },
    },
    ...v.driverConfig.volumes.map(
      (vol): V1Volume => ({
        name: vol.name,
        persistentVolumeClaim: { claimName: vol.claimName, readOnly: vol.readOnly },
      }),
    ),
    supervisorVolume(settings),
  ];
}
