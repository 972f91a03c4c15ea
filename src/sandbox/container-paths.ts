// Fixed paths inside the sandbox pod's containers. The supervisor reads these exact locations
// (upstream `openshell_core::container_paths`), so they are constants, never settings; every one
// lies under a root that mount-path.ts refuses to user volumes.

/** The workspace the supervisor runs in (`--workdir`), backed by the workspace claim. */
export const WORKSPACE_PATH = "/sandbox";

/** The projected ServiceAccount token the supervisor exchanges for a gateway token. */
export const SA_TOKEN_DIR = "/var/run/secrets/openshell";
export const SA_TOKEN_FILE = `${SA_TOKEN_DIR}/token`;

/** The client certificate Secret for mTLS to the gateway (`ca.crt`, `tls.crt`, `tls.key`). */
export const CLIENT_TLS_DIR = "/etc/openshell-tls/client";

/** The upstream proxy credentials file; its directory is the Secret volume's mount point. */
export const UPSTREAM_PROXY_AUTH_DIR = "/etc/openshell/auth";
export const UPSTREAM_PROXY_AUTH_FILE_NAME = "upstream-proxy";
export const UPSTREAM_PROXY_AUTH_FILE = `${UPSTREAM_PROXY_AUTH_DIR}/${UPSTREAM_PROXY_AUTH_FILE_NAME}`;

/** Sidecar topology: state shared by the network supervisor and the process supervisor. */
export const SIDECAR_STATE_DIR = "/run/openshell-sidecar";
export const SIDECAR_CONTROL_SOCKET = `${SIDECAR_STATE_DIR}/control.sock`;
/** Sidecar topology: the proxy CA (for workloads) and the network supervisor's client certificate. */
export const SIDECAR_TLS_DIR = "/etc/openshell-tls/proxy";
export const SIDECAR_CLIENT_TLS_DIR = `${SIDECAR_TLS_DIR}/client`;
/**
 * Sidecar topology: the SSH relay is an abstract socket, scoped to the pod's network namespace,
 * so the workload cannot unlink and replace it the way it could a file in the shared state volume.
 */
export const SIDECAR_SSH_SOCKET = "@openshell-sidecar-ssh";
