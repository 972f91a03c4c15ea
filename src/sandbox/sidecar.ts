// The sidecar supervisor topology (upstream `apply_supervisor_sidecar_topology`): an init container
// installs the pod's nftables egress fence, a network supervisor sidecar owns the proxy and the
// gateway credentials, and the agent container's process supervisor runs as the sandbox user with
// every capability dropped — the shape least-privilege admission (OpenShift SCCs) accepts.

import type { V1Container, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import type { DriverSandbox } from "../gen/compute_driver_pb";
import {
  SIDECAR_CLIENT_TLS_DIR,
  SIDECAR_CONTROL_SOCKET,
  SIDECAR_SSH_SOCKET,
  SIDECAR_STATE_DIR,
  SIDECAR_TLS_DIR,
} from "./container-paths";
import { EnvList, LOG_LEVEL_ENV, logLevelOf, setGatewayEnv, setIdentityEnv } from "./env";
import { clientTlsMounts, saTokenMount } from "./gateway-credentials";
import { withAppArmor } from "./security-context";
import type { RenderSettings, SandboxIdentity } from "./settings";
import { supervisorPullPolicy } from "./supervisor";
import { upstreamProxyArgs, upstreamProxyAuthMounts } from "./upstream-proxy";

export const NETWORK_INIT_CONTAINER = "openshell-network-init";
export const NETWORK_SUPERVISOR_CONTAINER = "openshell-supervisor-network";
export const SIDECAR_STATE_VOLUME = "openshell-sidecar-state";
export const SIDECAR_TLS_VOLUME = "openshell-supervisor-tls";

/**
 * Binary-aware policy attributes each connection to the binary that made it by reading other
 * processes' /proc entries; only root gets the capabilities that needs granted without privilege
 * escalation. Otherwise the proxy runs as its own non-root UID.
 */
function effectiveProxyUid(settings: Pick<RenderSettings, "sidecarBinaryAwareNetworkPolicy" | "sidecarProxyUid">): number {
  return settings.sidecarBinaryAwareNetworkPolicy ? 0 : settings.sidecarProxyUid;
}

export function sidecarVolumes(): V1Volume[] {
  return [
    { name: SIDECAR_STATE_VOLUME, emptyDir: {} },
    { name: SIDECAR_TLS_VOLUME, emptyDir: {} },
  ];
}

export function sidecarSharedMounts(): V1VolumeMount[] {
  return [
    { name: SIDECAR_STATE_VOLUME, mountPath: SIDECAR_STATE_DIR },
    { name: SIDECAR_TLS_VOLUME, mountPath: SIDECAR_TLS_DIR },
  ];
}

/** Variables both supervisors read to find each other; the SSH relay is the sidecar's abstract socket. */
function setSidecarEnv(env: EnvList): void {
  env.set("OPENSHELL_SUPERVISOR_TOPOLOGY", "sidecar");
  env.set("OPENSHELL_NETWORK_ENFORCEMENT_MODE", "sidecar-nftables");
  env.set("OPENSHELL_SIDECAR_CONTROL_SOCKET", SIDECAR_CONTROL_SOCKET);
  env.set("OPENSHELL_SSH_SOCKET_PATH", SIDECAR_SSH_SOCKET);
  env.set("OPENSHELL_PROXY_TLS_DIR", SIDECAR_TLS_DIR);
}

/**
 * The agent's process supervisor never talks to the gateway: the network sidecar does, over the
 * control socket, so every gateway credential variable leaves the agent's environment.
 */
export function applySidecarAgentEnv(env: EnvList): void {
  for (const name of [
    "OPENSHELL_ENDPOINT",
    "OPENSHELL_GATEWAY_TLS_SERVER_NAME",
    "OPENSHELL_TLS_CA",
    "OPENSHELL_TLS_CERT",
    "OPENSHELL_TLS_KEY",
    "OPENSHELL_SANDBOX_TOKEN",
    "OPENSHELL_SANDBOX_TOKEN_FILE",
    "OPENSHELL_K8S_SA_TOKEN_FILE",
    "OPENSHELL_PROVIDER_SPIFFE_WORKLOAD_API_SOCKET",
  ]) {
    env.delete(name);
  }
  setSidecarEnv(env);
}

/**
 * Root with exactly the capabilities nftables set-up and preparing the shared directories for
 * the proxy UID need; it also stages the client certificate into the proxy's TLS directory.
 */
export function networkInitContainer(settings: RenderSettings, identity: SandboxIdentity): V1Container {
  return {
    name: NETWORK_INIT_CONTAINER,
    image: settings.supervisorImage,
    ...supervisorPullPolicy(settings),
    command: [
      settings.supervisorBinaryPath,
      "--mode=network-init",
      "--proxy-uid",
      String(effectiveProxyUid(settings)),
      "--proxy-gid",
      String(identity.gid),
      "--sidecar-state-dir",
      SIDECAR_STATE_DIR,
      "--sidecar-tls-dir",
      SIDECAR_TLS_DIR,
    ],
    securityContext: withAppArmor(
      {
        runAsUser: 0,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"], add: ["NET_ADMIN", "NET_RAW", "CHOWN", "FOWNER"] },
      },
      settings,
    ),
    volumeMounts: [...sidecarSharedMounts(), ...clientTlsMounts(settings)],
  };
}

function networkSupervisorEnv(sandbox: DriverSandbox, settings: RenderSettings, identity: SandboxIdentity): EnvList {
  const env = new EnvList();
  // No SSH socket of its own; network-init staged the client certificate in the proxy's directory.
  setGatewayEnv(env, sandbox, settings, { sshSocketPath: "", clientTlsDir: SIDECAR_CLIENT_TLS_DIR });
  const logLevel = logLevelOf(sandbox);
  if (logLevel !== undefined) env.set(LOG_LEVEL_ENV, logLevel);
  setSidecarEnv(env);
  setIdentityEnv(env, identity);
  if (!settings.sidecarBinaryAwareNetworkPolicy) env.set("OPENSHELL_NETWORK_BINARY_IDENTITY", "relaxed");
  return env;
}

export function networkSupervisorContainer(
  sandbox: DriverSandbox,
  settings: RenderSettings,
  identity: SandboxIdentity,
): V1Container {
  const proxyUid = effectiveProxyUid(settings);
  const capabilities = settings.sidecarBinaryAwareNetworkPolicy
    ? { drop: ["ALL"], add: ["SYS_PTRACE", "DAC_READ_SEARCH"] }
    : { drop: ["ALL"] };
  return {
    name: NETWORK_SUPERVISOR_CONTAINER,
    image: settings.supervisorImage,
    ...supervisorPullPolicy(settings),
    command: [settings.supervisorBinaryPath, "--mode=network", ...upstreamProxyArgs(settings)],
    env: networkSupervisorEnv(sandbox, settings, identity).toList(),
    securityContext: withAppArmor(
      {
        runAsUser: proxyUid,
        runAsGroup: identity.gid,
        runAsNonRoot: proxyUid !== 0,
        allowPrivilegeEscalation: false,
        capabilities,
      },
      settings,
    ),
    volumeMounts: [...sidecarSharedMounts(), saTokenMount(), ...upstreamProxyAuthMounts(settings)],
  };
}
