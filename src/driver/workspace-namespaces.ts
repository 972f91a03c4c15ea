// The namespace each workspace's sandboxes live in, made ready before a sandbox is created there
// (upstream `ensure_namespace`, `ensure_image_pull_secrets`, `ensure_tls_secret`,
// `delete_namespace`):
// - shared: the driver's namespace; nothing to create or delete.
// - managed: `openshell-{gateway}-{workspace}`, created with ownership labels, the sandbox
//   ServiceAccount, copies of the image-pull and client-TLS Secrets and the SSH NetworkPolicy;
//   deleted on DeleteWorkspace only if this gateway owns it.
// - operator: the namespace named after the workspace, which must exist; never created or
//   deleted. The client-TLS Secret is copied into it, as upstream does in every multi-namespace mode.
import type { V1Namespace, V1Secret } from "@kubernetes/client-node";
import { isKubeApiError, type KubeClient } from "../kube";
import { RecentAnswers } from "../kube/recent-answers";
import { logger } from "../log";
import type { TargetNamespace } from "../platform/types";
import { workspaceNamespaceOf } from "../sandbox";
import { checkDns1123Label } from "../sandbox/dns";
import { failedPrecondition, invalidArgument } from "../sandbox/errors";
import type { RenderSettings } from "../sandbox/settings";
import { DriverError } from "./errors";
import { NAMESPACES_PATH, namespacedPath, namespacePath } from "./kube-paths";
import {
  FIELD_MANAGER,
  SSH_NETWORK_POLICY_NAME,
  isOwnedNamespace,
  managedNamespace,
  sandboxServiceAccount,
  secretCopy,
  sandboxIsolationPolicy,
  SANDBOX_NETWORK_POLICY_NAME,
  sshIngressPolicy,
} from "./workspace-manifests";

const log = logger("workspace");

/**
 * How long the shared namespace as read serves creates without reading it again: its labels and
 * annotations (Pod Security level, OpenShift ranges) change rarely, and a refusal forgets it.
 */
const SHARED_NAMESPACE_READ_MS = 10_000;

type Settings = Pick<
  RenderSettings,
  | "workspaceMode"
  | "namespace"
  | "gatewayId"
  | "serviceAccountName"
  | "imagePullSecrets"
  | "clientTlsSecretName"
  | "managedSshIngress"
  | "sandboxUid"
>;

/** What the platform needs of workspace namespaces. */
export interface NamespacePlatformNeeds {
  /** Read the shared namespace even with a fixed sandbox UID (its labels and SELinux level matter). */
  alwaysRead: boolean;
  /** Labels a managed namespace is created with. */
  labels: Record<string, string>;
}

/** A Secret the driver copies from its own namespace, and the flag that names it. */
interface SourceSecret {
  name: string;
  flag: string;
  what: string;
}

export class WorkspaceNamespaces {
  readonly #client: KubeClient;
  readonly #settings: Settings;
  readonly #platform: NamespacePlatformNeeds;
  readonly #sharedReads: RecentAnswers<V1Namespace>;

  constructor(client: KubeClient, settings: Settings, platform: NamespacePlatformNeeds = { alwaysRead: false, labels: {} }, now?: () => number) {
    this.#client = client;
    this.#settings = settings;
    this.#platform = platform;
    this.#sharedReads = new RecentAnswers<V1Namespace>(SHARED_NAMESPACE_READ_MS, now);
  }

  /** A check refused a sandbox, perhaps for what the namespace said: read it afresh next time. */
  forgetRecentRead(workspace: string): void {
    this.#sharedReads.forget(workspaceNamespaceOf(workspace, this.#settings));
  }

  /**
   * EnsureWorkspace: in managed and operator mode, what CreateSandbox would prepare; the
   * namespace is returned for the platform's checks (undefined in shared mode).
   */
  async ensure(workspace: string): Promise<TargetNamespace | undefined> {
    return this.#settings.workspaceMode === "shared" ? undefined : await this.prepare(workspace, "workspace");
  }

  /**
   * Makes the workspace's namespace ready for a sandbox and returns it as read: its annotations
   * carry the sandbox identity (OpenShift UID/GID ranges), its labels the Pod Security level.
   * `field` names the request field the workspace came from, for error messages.
   */
  async prepare(workspace: string, field: string): Promise<TargetNamespace> {
    const name = this.#namespaceOf(workspace, field);
    let namespace: V1Namespace | undefined;
    switch (this.#settings.workspaceMode) {
      case "shared":
        namespace = await this.#sharedNamespace(name);
        break;
      case "managed":
        namespace = await this.#ensureManaged(name, workspace, field);
        await this.#copySecrets(name, this.#sourceSecrets());
        break;
      case "operator":
        namespace = await this.#requireOperatorNamespace(name, field);
        await this.#copySecrets(name, this.#sourceSecrets().filter((s) => s.flag === "--client-tls-secret-name"));
        break;
    }
    return targetOf(name, namespace);
  }

  /**
   * What prepare would refuse, without writing anything (ValidateSandboxCreate). Returns the
   * namespace prepare would return, as far as it exists yet (a managed namespace not created yet
   * gets the driver namespace's annotations, read at creation, and the platform's labels).
   */
  async check(workspace: string, field: string): Promise<TargetNamespace> {
    const name = this.#namespaceOf(workspace, field);
    let namespace: V1Namespace | undefined;
    switch (this.#settings.workspaceMode) {
      case "shared":
        namespace = await this.#sharedNamespace(name);
        break;
      case "managed": {
        namespace = await this.#getNamespace(name);
        if (namespace) this.#requireReusable(namespace, field);
        await Promise.all(this.#sourceSecrets().map((s) => this.#readSource(s)));
        if (!namespace) return { name, labels: { ...this.#platform.labels }, annotations: {} };
        break;
      }
      case "operator":
        namespace = await this.#requireOperatorNamespace(name, field);
        await Promise.all(this.#sourceSecrets().filter((s) => s.flag === "--client-tls-secret-name").map((s) => this.#readSource(s)));
    }
    return targetOf(name, namespace);
  }

  /**
   * DeleteWorkspace. Only managed mode deletes, and only a namespace this gateway owns: another
   * one of that name is left alone and the call still succeeds (upstream), so the gateway can
   * finish deleting a workspace whose namespace it never had.
   */
  async delete(workspace: string): Promise<void> {
    const name = this.#namespaceOf(workspace, "workspace");
    if (this.#settings.workspaceMode !== "managed") return;
    for (let attempt = 0; attempt < 3; attempt++) {
      const namespace = await this.#getNamespace(name);
      if (!namespace || namespace.metadata?.deletionTimestamp) return;
      if (!isOwnedNamespace(namespace, this.#settings.gatewayId)) {
        log.warn("not deleting a namespace this gateway does not own", { namespace: name, workspace });
        return;
      }
      const uid = namespace.metadata?.uid;
      if (!uid) throw new DriverError("Aborted", `namespace "${name}" has no UID; refusing a delete without a UID precondition`);
      try {
        // The UID precondition makes sure the namespace deleted is the one whose labels were checked.
        await this.#client.request({
          verb: "delete",
          path: namespacePath(name),
          body: { kind: "DeleteOptions", apiVersion: "v1", preconditions: { uid } },
          resource: "namespaces",
          name,
        });
        log.info("deleted managed namespace", { namespace: name, workspace });
        return;
      } catch (err) {
        if (isKubeApiError(err, 404)) return;
        // 409: a different namespace of that name appeared since the lookup; check it again.
        if (!isKubeApiError(err, 409)) throw err;
      }
    }
    throw new DriverError("Aborted", `namespace "${name}" kept changing identity while deleting; retry`);
  }

  #namespaceOf(workspace: string, field: string): string {
    const name = workspaceNamespaceOf(workspace, this.#settings);
    const problem = checkDns1123Label(name);
    if (problem) {
      throw invalidArgument(field, `${this.#settings.workspaceMode} namespace '${name}' (from workspace '${workspace}') is not a valid DNS-1123 label: ${problem}`);
    }
    return name;
  }

  async #sharedNamespace(name: string): Promise<V1Namespace | undefined> {
    // A fixed sandbox UID makes the namespace's ranges irrelevant; upstream then does not read it.
    if (this.#settings.sandboxUid !== undefined && !this.#platform.alwaysRead) return undefined;
    try {
      return await this.#sharedReads.get(name, () => this.#client.request<V1Namespace>({ verb: "get", path: namespacePath(name), resource: "namespaces", name }));
    } catch (err) {
      if (isKubeApiError(err, 404)) throw failedPrecondition("--namespace", `namespace "${name}" does not exist`);
      // The platform's checks (Pod Security level, SELinux level) cannot be made blind.
      if (this.#platform.alwaysRead) throw err;
      // Upstream falls back to the default identity when the namespace cannot be read (an older
      // RBAC without `get namespaces`, a slow API server); the create itself still decides.
      log.warn("cannot read the sandbox namespace; using the default sandbox identity", { namespace: name, error: (err as Error).message });
      return undefined;
    }
  }

  async #ensureManaged(name: string, workspace: string, field: string): Promise<V1Namespace> {
    const { gatewayId, namespace: gatewayNamespace } = this.#settings;
    const gateway = await this.#client.request<V1Namespace>({
      verb: "get",
      path: namespacePath(gatewayNamespace),
      resource: "namespaces",
      name: gatewayNamespace,
    });
    let namespace: V1Namespace;
    try {
      namespace = await this.#client.request<V1Namespace>({
        verb: "create",
        path: NAMESPACES_PATH,
        body: managedNamespace(name, workspace, gatewayId, gateway.metadata?.annotations ?? {}, this.#platform.labels),
        resource: "namespaces",
        name,
      });
      log.info("created managed namespace", { namespace: name, workspace });
    } catch (err) {
      if (!isKubeApiError(err, 409)) throw err;
      const existing = await this.#getNamespace(name);
      if (!existing) throw new DriverError("Aborted", `namespace "${name}" was deleted while being created; retry`);
      namespace = this.#requireReusable(existing, field);
    }
    await this.#createServiceAccount(name);
    const ingress = this.#settings.managedSshIngress;
    if (ingress.enabled) await this.#applyNetworkPolicy(name, SSH_NETWORK_POLICY_NAME, sshIngressPolicy(name, ingress));
    if (ingress.sandboxPolicy) await this.#applyNetworkPolicy(name, SANDBOX_NETWORK_POLICY_NAME, sandboxIsolationPolicy(name, ingress));
    return namespace;
  }

  #requireReusable(namespace: V1Namespace, field: string): V1Namespace {
    const name = namespace.metadata?.name ?? "";
    if (!isOwnedNamespace(namespace, this.#settings.gatewayId)) {
      throw failedPrecondition(field, `namespace ${name} exists but is not owned by this gateway (gateway id "${this.#settings.gatewayId}")`);
    }
    if (namespace.metadata?.deletionTimestamp) {
      throw failedPrecondition(field, `namespace ${name} is being deleted; retry once it is gone`);
    }
    return namespace;
  }

  async #requireOperatorNamespace(name: string, field: string): Promise<V1Namespace> {
    const namespace = await this.#getNamespace(name);
    if (!namespace) {
      throw failedPrecondition(field, `workspace namespace "${name}" does not exist; in operator mode the cluster operator creates it`);
    }
    return namespace;
  }

  async #getNamespace(name: string): Promise<V1Namespace | undefined> {
    try {
      return await this.#client.request<V1Namespace>({ verb: "get", path: namespacePath(name), resource: "namespaces", name });
    } catch (err) {
      if (isKubeApiError(err, 404)) return undefined;
      throw err;
    }
  }

  async #createServiceAccount(namespace: string): Promise<void> {
    const name = this.#settings.serviceAccountName;
    if (name === "") return;
    try {
      await this.#client.request({
        verb: "create",
        path: namespacedPath(namespace, "serviceaccounts"),
        body: sandboxServiceAccount(name, namespace),
        resource: "serviceaccounts",
        namespace,
        name,
      });
      log.info("created sandbox service account", { namespace, name });
    } catch (err) {
      if (!isKubeApiError(err, 409)) throw err;
    }
  }

  /** Server-side apply of one of the NetworkPolicies managed mode keeps in a workspace namespace. */
  async #applyNetworkPolicy(namespace: string, name: string, body: object): Promise<void> {
    await this.#client.request({
      verb: "patch",
      patchType: "apply",
      path: `${namespacedPath(namespace, "networkpolicies")}/${name}`,
      query: { fieldManager: FIELD_MANAGER },
      body,
      resource: "networkpolicies.networking.k8s.io",
      namespace,
      name,
    });
  }

  #sourceSecrets(): SourceSecret[] {
    const pull = this.#settings.imagePullSecrets
      .map((s) => s.trim())
      .filter((s) => s !== "")
      .map((name) => ({ name, flag: "--image-pull-secrets", what: "image-pull" }));
    const tls = this.#settings.clientTlsSecretName;
    return tls === "" ? pull : [...pull, { name: tls, flag: "--client-tls-secret-name", what: "client TLS" }];
  }

  async #readSource(secret: SourceSecret): Promise<V1Secret> {
    const source = this.#settings.namespace;
    try {
      return await this.#client.request<V1Secret>({
        verb: "get",
        path: `${namespacedPath(source, "secrets")}/${secret.name}`,
        resource: "secrets",
        namespace: source,
        name: secret.name,
      });
    } catch (err) {
      if (!isKubeApiError(err, 404)) throw err;
      throw failedPrecondition(secret.flag, `configured ${secret.what} Secret "${secret.name}" does not exist in source namespace "${source}"`);
    }
  }

  /**
   * Server-side apply refreshes a rotated credential on every call without taking fields another
   * manager owns (upstream). Only names are logged: the data is a credential.
   */
  async #copySecrets(namespace: string, secrets: SourceSecret[]): Promise<void> {
    for (const secret of secrets) {
      const source = await this.#readSource(secret);
      await this.#client.request({
        verb: "patch",
        patchType: "apply",
        path: `${namespacedPath(namespace, "secrets")}/${secret.name}`,
        query: { fieldManager: FIELD_MANAGER },
        body: secretCopy(source, namespace),
        resource: "secrets",
        namespace,
        name: secret.name,
      });
      log.debug(`copied ${secret.what} Secret into the workspace namespace`, { namespace, name: secret.name });
    }
  }
}

/** An unread namespace (shared mode with a fixed UID on plain Kubernetes) has no labels or annotations. */
function targetOf(name: string, namespace: V1Namespace | undefined): TargetNamespace {
  return { name, labels: { ...namespace?.metadata?.labels }, annotations: { ...namespace?.metadata?.annotations } };
}
