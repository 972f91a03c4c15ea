// Flags + environment → one typed, validated Config. For each flag: the command line, then
// OPENSHELL_DRIVER_*, then upstream's variable name, then the default. Settings that only make
// sense together are checked together afterwards, each error naming the flag to change.
import type { Exposure, PlatformName, PlatformSettings } from "../platform/settings";
import type { UpstreamProxy } from "../sandbox/settings";
import { envVarFor, FLAGS, type Config, type ConfigDraft, type FlagSpec } from "./flags";
import { ConfigError } from "./value-parsers";

/** Upstream's longest sandbox name (`MAX_ROUTABLE_NAME_LEN`): a managed namespace must still fit 63. */
const MAX_SANDBOX_NAME = 19;

/** `flags` maps flag name → raw string as given on the command line. */
export function resolveConfig(
  flags: Readonly<Record<string, string | undefined>>,
  env: Readonly<Record<string, string | undefined>>,
  stdoutIsTty: boolean,
): Config {
  const draft: ConfigDraft = { server: {}, render: { upstreamProxy: {}, managedSshIngress: {}, requestPolicy: {} }, platform: {} };
  for (const [flag, spec] of Object.entries(FLAGS) as [string, FlagSpec][]) {
    const raw = flags[flag] ?? env[envVarFor(flag)] ?? spec.aliases?.map((name) => env[name]).find((v) => v !== undefined) ?? spec.fallback;
    if (raw !== undefined) spec.apply(draft, raw, flag);
  }
  draft.server.logFormat ??= stdoutIsTty ? "pretty" : "json";
  if (draft.server.kubeconfig === "") draft.server.kubeconfig = undefined;
  const config = draft as Config;
  checkUpstreamProxy(config.render.upstreamProxy, config.render.supervisorTopology);
  checkWorkspaceMode(config);
  checkPlatform(config.platform);
  return config;
}

/** Upstream's `validate_upstream_proxy_config`, flag by flag. */
function checkUpstreamProxy(proxy: UpstreamProxy, topology: Config["render"]["supervisorTopology"]): void {
  if (proxy.url !== "") {
    const problem = upstreamProxyUrlProblem(proxy.url);
    if (problem) throw new ConfigError("https-proxy", `"${proxy.url}" ${problem}`);
  }
  const needsUrl = (flag: string) => new ConfigError(flag, "needs --https-proxy");
  if (proxy.noProxy !== "" && proxy.noProxy.trim() === "") throw new ConfigError("no-proxy", "must not be blank");
  if (proxy.noProxy !== "" && proxy.url === "") throw needsUrl("no-proxy");
  if (proxy.connectByHostname && proxy.url === "") throw needsUrl("proxy-connect-by-hostname");
  const hasSecret = proxy.authSecretName !== "" || proxy.authSecretKey !== "";
  if (!hasSecret) {
    if (proxy.allowInsecure) throw new ConfigError("proxy-auth-allow-insecure", "needs --proxy-auth-secret-name and --proxy-auth-secret-key");
    return;
  }
  if (proxy.authSecretName === "") throw new ConfigError("proxy-auth-secret-name", "must be set together with --proxy-auth-secret-key");
  if (proxy.authSecretKey === "") throw new ConfigError("proxy-auth-secret-key", "must be set together with --proxy-auth-secret-name");
  const key = proxy.authSecretKey;
  if (!/^[A-Za-z0-9._-]+$/.test(key) || key.length > 253 || key === "." || key === "..") {
    throw new ConfigError("proxy-auth-secret-key", `"${key}" is not a Secret key ([A-Za-z0-9._-], at most 253, not . or ..)`);
  }
  if (proxy.url === "") throw needsUrl("proxy-auth-secret-name");
  // The credentials cross the network to an http:// proxy in the clear: only on explicit consent.
  if (!proxy.allowInsecure) {
    throw new ConfigError("proxy-auth-secret-name", "sends credentials to an http:// proxy in the clear; add --proxy-auth-allow-insecure to accept that");
  }
  // Only the sidecar topology keeps the credentials out of the agent container.
  if (topology !== "sidecar") throw new ConfigError("proxy-auth-secret-name", "needs --supervisor-topology=sidecar");
}

/** `http://host:port` exactly, as upstream's `parse_upstream_proxy_url`; undefined when it is. */
function upstreamProxyUrlProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "is not a URL; expected http://host:port";
  }
  if (url.protocol !== "http:") return "must use http:// (the proxy is reached with CONNECT over plain HTTP)";
  if (url.username !== "" || url.password !== "") return "must not carry credentials; use --proxy-auth-secret-name";
  // WHATWG URL drops the default port, so an explicit :80 must be read from the text.
  const explicitPort = /^http:\/\/(\[[^\]]+\]|[^/:?#]+):(\d+)\/?$/i.exec(raw);
  if (!explicitPort || Number(explicitPort[2]) === 0 || Number(explicitPort[2]) > 65535) {
    return "must be http://host:port with an explicit port and no path, query or fragment";
  }
  return undefined;
}

function checkWorkspaceMode(config: Config): void {
  const { workspaceMode, gatewayId, managedSshIngress } = config.render;
  if (workspaceMode !== "managed") return;
  // Namespaces are `openshell-{gateway}-{workspace}`, and upstream's sandbox names go up to 19
  // characters as workspace names: the whole must stay a 63-character DNS label.
  const longest = `openshell-${gatewayId}-`.length + MAX_SANDBOX_NAME;
  if (longest > 63) {
    throw new ConfigError("gateway-id", `"${gatewayId}" is too long for --workspace-mode=managed (at most ${63 - "openshell--".length - MAX_SANDBOX_NAME} characters)`);
  }
  for (const [on, flag] of [
    [managedSshIngress.enabled, "--managed-ssh-ingress-enabled"],
    [managedSshIngress.sandboxPolicy, "--managed-sandbox-network-policy"],
  ] as const) {
    if (!on) continue;
    if (managedSshIngress.gatewayNamespace === "") throw new ConfigError("managed-ssh-gateway-namespace", `is required with ${flag}`);
    if (Object.keys(managedSshIngress.gatewayPodSelector).length === 0) {
      throw new ConfigError("managed-ssh-gateway-pod-selector", `is required with ${flag}`);
    }
  }
}

/** Exposure kinds belong to one platform each; with `--platform=auto` the adapter checks again at start. */
function checkPlatform(platform: PlatformSettings): void {
  const needs: Record<Exposure, PlatformName | undefined> = { none: undefined, route: "openshift", apirule: "kyma", virtualservice: "kyma" };
  const wanted = needs[platform.expose];
  if (wanted && platform.platform !== "auto" && platform.platform !== wanted) {
    throw new ConfigError("expose", `"${platform.expose}" needs --platform=${wanted} (or auto), not ${platform.platform}`);
  }
  if (platform.openshiftOauthProxy && platform.expose !== "route") {
    throw new ConfigError("openshift-oauth-proxy", "needs --expose=route (the proxy guards the exposed port)");
  }
}
