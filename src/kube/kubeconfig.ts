// Turns a kubeconfig (or the in-cluster service account) into what a Bun fetch needs: a server
// URL, PEM material for `fetch(url, {tls})`, and a function that yields auth headers per request.
// client-node parses; it never sends, because under Bun its undici dispatcher (and with it the
// CA and client certificate) is silently dropped — see shared/reference Part D2.

import { stat, readFile } from "node:fs/promises";
import { existsSync, readFileSync, statSync } from "node:fs";
import { isIPv6 } from "node:net";
import { delimiter, dirname, isAbsolute, join, resolve } from "node:path";
import { KubeConfig, type Cluster, type User } from "@kubernetes/client-node";
import { limitExecPlugins, type PluginLimits } from "./exec-plugin-limits";

export interface KubeTls {
  /** PEM, or a function yielding the current PEM of a CA file that may be rotated. */
  ca?: string | (() => string);
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
  serverName?: string;
}

export interface KubeAccess {
  /** Base URL of the API server, without a trailing slash (may carry a path prefix). */
  server: string;
  tls: KubeTls;
  /** Headers to add to each request (Authorization, Impersonate-User). Cheap to call per request. */
  auth: () => Promise<Record<string, string>>;
  /** Namespace of the current context, or of the service account in-cluster. */
  contextNamespace?: string;
  /** Where the access came from, for logs and `doctor`; never contains secrets. */
  describe: string;
  /** proxy-url of the kubeconfig cluster, if any. */
  proxyUrl?: string;
}

export interface LoadKubeAccessOptions {
  kubeconfigPath?: string;
  /** Environment to read KUBERNETES_SERVICE_HOST/PORT and KUBECONFIG from; defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** Root prepended to /var/run/secrets/kubernetes.io/serviceaccount (tests). */
  serviceAccountRoot?: string;
  /** Home directory holding .kube/config; defaults to $HOME of `env`. */
  home?: string;
  /** How long one exec credential plugin run may take before it is killed (the kube timeout). */
  pluginTimeoutMs?: number;
  /** Once aborted (driver shutdown), exec credential plugins are killed, running or started later. */
  signal?: AbortSignal;
}

const DEFAULT_PLUGIN_TIMEOUT_MS = 30_000;

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export async function loadKubeAccess(opts: LoadKubeAccessOptions = {}): Promise<KubeAccess> {
  const env = opts.env ?? process.env;
  const plugins: PluginLimits = { timeoutMs: opts.pluginTimeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS, ...(opts.signal ? { signal: opts.signal } : {}) };
  if (opts.kubeconfigPath) return loadFromKubeconfigFiles([opts.kubeconfigPath], "--kubeconfig", plugins);

  const saRoot = opts.serviceAccountRoot ?? "";
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  const tokenPath = `${saRoot}${SERVICE_ACCOUNT_DIR}/token`;
  const tried: string[] = [];
  if (host && port) {
    if (existsSync(tokenPath)) return loadInCluster(saRoot, host, port);
    tried.push(`in-cluster (KUBERNETES_SERVICE_HOST is set but ${tokenPath} does not exist)`);
  } else {
    tried.push("in-cluster (KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT not set)");
  }

  const envList = (env.KUBECONFIG ?? "").split(delimiter).filter((p) => p !== "");
  if (envList.length > 0) return loadFromKubeconfigFiles(envList, "KUBECONFIG", plugins);
  tried.push("KUBECONFIG (not set)");

  // `~` is $HOME, as for kubectl. os.homedir() is not asked: under an arbitrary UID (OpenShift's
  // restricted-v2) there is no passwd entry either, and it throws "uv_os_homedir" instead.
  const home = opts.home ?? env.HOME;
  if (home) {
    const defaultPath = join(home, ".kube", "config");
    if (existsSync(defaultPath)) return loadFromKubeconfigFiles([defaultPath], "default kubeconfig", plugins);
    tried.push(`${defaultPath} (does not exist)`);
  } else {
    tried.push("~/.kube/config (skipped: HOME is not set)");
  }

  throw new Error(`no Kubernetes credentials found; tried: ${tried.join("; ")}; pass --kubeconfig, or run in a pod with a service account`);
}

async function loadInCluster(saRoot: string, host: string, port: string): Promise<KubeAccess> {
  // Built by hand rather than with KubeConfig.loadFromCluster, which reads process.env itself and
  // whose FileAuth re-reads the token only once a minute.
  const dir = `${saRoot}${SERVICE_ACCOUNT_DIR}`;
  const scheme = port === "80" || port === "8080" || port === "8001" ? "http" : "https";
  const server = `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  const ca = new PemFile(`${dir}/ca.crt`, "in-cluster service account CA");
  ca.read(); // fail at start, not on the first request
  const token = new TokenFile(`${dir}/token`, "in-cluster service account token");
  await token.read(); // fail at start, not on the first request
  let ns: string | undefined;
  try {
    ns = readFileSync(`${dir}/namespace`, "utf8").trim() || undefined;
  } catch {
    ns = undefined;
  }
  return {
    server,
    tls: { ca: () => ca.read(), rejectUnauthorized: true },
    auth: async () => ({ Authorization: `Bearer ${await token.read()}` }),
    ...(ns ? { contextNamespace: ns } : {}),
    describe: `in-cluster service account (server ${server}${ns ? `, namespace ${ns}` : ""})`,
  };
}

/** A kubeconfig file after parsing, plus what client-node does not keep: users' token-file paths. */
interface ParsedFile {
  path: string;
  kc: KubeConfig;
  tokenFiles: Map<string, string>;
}

function parseKubeconfigFile(path: string, origin: string): ParsedFile {
  const abs = resolve(path);
  let text: string;
  try {
    text = readFileSync(abs, "utf8");
  } catch (err) {
    throw new Error(`kubeconfig ${abs} (from ${origin}): cannot read: ${errCode(err)}`);
  }
  let raw: unknown;
  try {
    raw = text.trim() === "" ? {} : Bun.YAML.parse(text);
  } catch (err) {
    throw new Error(`kubeconfig ${abs}: not valid YAML: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== "object") throw new Error(`kubeconfig ${abs}: not a YAML mapping`);
  const doc = raw as { users?: unknown };
  // client-node resolves `token-file` once, at parse time, relative to the working directory.
  // We need the path (to re-read on rotation, relative to the kubeconfig like client-go), so
  // take it out before client-node sees it.
  const tokenFiles = new Map<string, string>();
  if (Array.isArray(doc.users)) {
    for (const u of doc.users as Array<{ name?: unknown; user?: Record<string, unknown> }>) {
      const tf = u?.user?.["token-file"];
      if (typeof u?.name === "string" && typeof tf === "string" && tf !== "") {
        tokenFiles.set(u.name, isAbsolute(tf) ? tf : join(dirname(abs), tf));
        delete u.user!["token-file"];
      }
    }
  }
  const kc = new KubeConfig();
  try {
    // JSON is YAML, so client-node's own parser reads the amended document unchanged.
    kc.loadFromString(JSON.stringify(raw));
  } catch (err) {
    throw new Error(`kubeconfig ${abs}: ${(err as Error).message}`);
  }
  kc.makePathsAbsolute(dirname(abs));
  return { path: abs, kc, tokenFiles };
}

async function loadFromKubeconfigFiles(paths: string[], origin: string, plugins: PluginLimits): Promise<KubeAccess> {
  const files = paths.map((p) => parseKubeconfigFile(p, origin));
  // Merge like kubectl: the first file that defines a name wins, the first current-context wins.
  const kc = new KubeConfig();
  const tokenFiles = new Map<string, string>();
  let current = "";
  for (const f of files) {
    if (!current && f.kc.currentContext) current = f.kc.currentContext;
    for (const c of f.kc.clusters) if (!kc.clusters.some((x) => x.name === c.name)) kc.clusters.push(c);
    for (const u of f.kc.users) if (!kc.users.some((x) => x.name === u.name)) kc.users.push(u);
    for (const c of f.kc.contexts) if (!kc.contexts.some((x) => x.name === c.name)) kc.contexts.push(c);
    for (const [name, p] of f.tokenFiles) if (!tokenFiles.has(name)) tokenFiles.set(name, p);
  }
  kc.currentContext = current;
  const where = files.length === 1 ? `kubeconfig ${files[0]!.path}` : `kubeconfig ${files.map((f) => f.path).join(delimiter)}`;

  if (!current) throw new Error(`${where}: no current-context set`);
  const ctx = kc.getContextObject(current);
  if (!ctx) throw new Error(`${where}: current-context "${current}" is not defined under contexts`);
  const cluster = kc.getCluster(ctx.cluster);
  if (!cluster) throw new Error(`${where}: context "${current}" names cluster "${ctx.cluster}", which is not defined under clusters`);
  const user = ctx.user ? kc.getUser(ctx.user) : null;
  if (ctx.user && !user) throw new Error(`${where}: context "${current}" names user "${ctx.user}", which is not defined under users`);

  const tls = buildTls(where, cluster, user);
  if (user?.exec) limitExecPlugins(where, kc, plugins);
  const auth = buildAuth(where, kc, user, user ? tokenFiles.get(user.name) : undefined);
  await auth(); // surface a missing token file or a failing exec plugin at start
  const ns = ctx.namespace?.trim();
  return {
    server: cluster.server.replace(/\/+$/, ""),
    tls,
    auth,
    ...(ns ? { contextNamespace: ns } : {}),
    ...(cluster.proxyUrl ? { proxyUrl: cluster.proxyUrl } : {}),
    describe: `${where} context "${current}" (server ${cluster.server}, user "${ctx.user ?? ""}")`,
  };
}

function buildTls(where: string, cluster: Cluster, user: User | null): KubeTls {
  const tls: KubeTls = { rejectUnauthorized: !cluster.skipTLSVerify };
  const caWhat = `cluster "${cluster.name}" certificate-authority`;
  if (cluster.caData) {
    tls.ca = pemFromFileOrData(where, caWhat, undefined, cluster.caData);
  } else if (cluster.caFile) {
    const ca = new PemFile(cluster.caFile, `${where}: ${caWhat}`);
    ca.read();
    tls.ca = () => ca.read();
  }
  if (cluster.tlsServerName) tls.serverName = cluster.tlsServerName;
  if (user) {
    const cert = pemFromFileOrData(where, `user "${user.name}" client-certificate`, user.certFile, user.certData);
    const key = pemFromFileOrData(where, `user "${user.name}" client-key`, user.keyFile, user.keyData);
    if (cert && !key) throw new Error(`${where}: user "${user.name}" has a client certificate but no client-key / client-key-data`);
    if (key && !cert) throw new Error(`${where}: user "${user.name}" has a client key but no client-certificate / client-certificate-data`);
    if (cert && key) {
      tls.cert = cert;
      tls.key = key;
    }
  }
  return tls;
}

function buildAuth(
  where: string,
  kc: KubeConfig,
  user: User | null,
  tokenFilePath: string | undefined,
): () => Promise<Record<string, string>> {
  if (!user) return async () => ({});
  const extra: Record<string, string> = {};
  if (user.impersonateUser) extra["Impersonate-User"] = user.impersonateUser;

  if (user.token) {
    const h = { ...extra, Authorization: `Bearer ${user.token.trim()}` };
    return async () => h;
  }
  if (tokenFilePath) {
    const tf = new TokenFile(tokenFilePath, `${where}: user "${user.name}" token-file`);
    return async () => ({ ...extra, Authorization: `Bearer ${await tf.read()}` });
  }
  if (user.username || user.password) {
    const basic = Buffer.from(`${user.username ?? ""}:${user.password ?? ""}`).toString("base64");
    const h = { ...extra, Authorization: `Basic ${basic}` };
    return async () => h;
  }
  if (user.exec || user.authProvider) {
    const kind = user.exec ? "exec plugin" : `auth-provider "${String(user.authProvider?.name ?? "")}"`;
    return async () => ({ ...extra, ...(await pluginHeaders(where, kc, user, kind)) });
  }
  return async () => extra;
}

/**
 * Exec and auth-provider plugins (OIDC, Azure, GCP, exec credential) stay client-node's job:
 * its authenticators cache and refresh credentials. We only lift the headers they produce.
 */
async function pluginHeaders(where: string, kc: KubeConfig, user: User, kind: string): Promise<Record<string, string>> {
  const apply = (kc as unknown as { applyAuthorizationHeader?: (o: PluginOpts) => Promise<void> }).applyAuthorizationHeader;
  if (typeof apply !== "function") {
    throw new Error(`${where}: user "${user.name}" uses an ${kind}, which this client-node version cannot turn into headers`);
  }
  const opts: PluginOpts = { headers: {} };
  try {
    await apply.call(kc, opts);
  } catch (err) {
    // Plugin errors can quote the plugin's stdout; keep only the first line.
    const msg = String((err as Error)?.message ?? err).split("\n")[0];
    throw new Error(`${where}: user "${user.name}" ${kind} failed: ${msg}`);
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v);
  if (!headers.Authorization) {
    const certOnly = opts.cert || opts.key ? " (it returned a client certificate, which is not supported; return a token)" : "";
    throw new Error(`${where}: user "${user.name}" ${kind} produced no Authorization header${certOnly}`);
  }
  return headers;
}

interface PluginOpts {
  headers?: Record<string, string | number | undefined>;
  cert?: unknown;
  key?: unknown;
}

/**
 * A bearer token kept in a file that the kubelet (projected SA token) or a credential helper
 * rotates. Re-read when the file's identity changes; stat per request costs microseconds, and the
 * kubelet swaps the file via a symlink, so inode, size and mtime together catch every rotation.
 */
export class TokenFile {
  private stamp = "";
  private token = "";

  constructor(
    readonly path: string,
    private readonly label: string,
  ) {}

  async read(): Promise<string> {
    let s;
    try {
      s = await stat(this.path);
    } catch (err) {
      throw new Error(`${this.label} ${this.path}: cannot stat: ${errCode(err)}`);
    }
    const stamp = `${s.ino}:${s.size}:${s.mtimeMs}`;
    if (stamp !== this.stamp || this.token === "") {
      let text: string;
      try {
        text = await readFile(this.path, "utf8");
      } catch (err) {
        throw new Error(`${this.label} ${this.path}: cannot read: ${errCode(err)}`);
      }
      const token = text.trim();
      if (token === "") throw new Error(`${this.label} ${this.path}: file is empty`);
      this.token = token;
      this.stamp = stamp;
    }
    return this.token;
  }
}

/** A PEM file that may be rotated in place (a CA bundle), re-read when its identity changes, as TokenFile. */
class PemFile {
  private stamp = "";
  private pem = "";

  constructor(
    readonly path: string,
    private readonly label: string,
  ) {}

  read(): string {
    let s;
    try {
      s = statSync(this.path);
    } catch (err) {
      throw new Error(`${this.label} file ${this.path}: cannot stat: ${errCode(err)}`);
    }
    const stamp = `${s.ino}:${s.size}:${s.mtimeMs}`;
    if (stamp !== this.stamp) {
      this.pem = readPem(this.path, this.label);
      this.stamp = stamp;
    }
    return this.pem;
  }
}

function pemFromFileOrData(where: string, what: string, file: string | undefined, data: string | undefined): string | undefined {
  if (data) {
    const pem = Buffer.from(data, "base64").toString("utf8");
    if (!pem.includes("-----BEGIN")) throw new Error(`${where}: ${what}-data is not base64-encoded PEM`);
    return pem;
  }
  if (file) return readPem(file, `${where}: ${what}`);
  return undefined;
}

function readPem(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`${what} file ${path}: cannot read: ${errCode(err)}`);
  }
  if (!text.includes("-----BEGIN")) throw new Error(`${what} file ${path}: no PEM block found`);
  return text;
}

function errCode(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e?.code ?? e?.message ?? String(err);
}
