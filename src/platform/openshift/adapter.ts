// OpenShift: sandbox pods are pinned to one SCC (--openshift-scc), which their ServiceAccount must
// be allowed to use and which must admit the pod the Sandbox CR describes. Both are checked before
// a create, so a sandbox is refused with the fix instead of hanging with a FailedCreate event on a
// pod that never appears. With --expose route each sandbox also gets a Service and a Route, and
// optionally the OAuth proxy that guards them.

import { randomBytes as cryptoRandomBytes } from "node:crypto";
import { DriverError } from "../../driver/errors";
import type { V1Namespace } from "@kubernetes/client-node";
import type { KubeClient } from "../../kube";
import { SandboxRequestError } from "../../sandbox/errors";
import type { RenderSettings } from "../../sandbox/settings";
import type { SandboxResource } from "../../sandbox/types";
import { podAsCreated } from "../pod-as-created";
import { referenceSandbox } from "../reference-pod";
import type { PlatformSettings } from "../settings";
import { PlatformProblem, type PlatformAdapter, type PlatformIdentity, type SideObject, type TargetNamespace } from "../types";
import { amendForOpenShift } from "./amend";
import { exposureRoute, exposureService } from "./exposure";
import { fitsScc } from "./fits-scc";
import { cookieSecret, OAUTH_PROXY_PORT, oauthRedirectAnnotation, podServiceAccount, type RandomBytes } from "./oauth-proxy";
import type { SecurityContextConstraints } from "./scc";
import { grantSccCommand, MissingDriverPermission, SccAccess, serviceAccountUser, type SandboxServiceAccount } from "./scc-access";

const SCC_MANIFEST = "deploy/openshift/sandbox-scc.yaml";

export interface OpenShiftAdapterOptions {
  client: KubeClient;
  identity: PlatformIdentity;
  platform: PlatformSettings;
  /** Every sandbox's settings: the driver's namespace and mode, the pods' SA, the least pod (preflight). */
  render: RenderSettings;
  /** Source of the OAuth proxy's cookie secrets; node:crypto unless a test fixes it. */
  randomBytes?: RandomBytes;
  /** Clock of the SCC and access-review caches, in milliseconds. */
  now?: () => number;
}

export class OpenShiftAdapter implements PlatformAdapter {
  readonly identity: PlatformIdentity;
  private readonly client: KubeClient;
  private readonly platform: PlatformSettings;
  private readonly render: OpenShiftAdapterOptions["render"];
  private readonly randomBytes: RandomBytes;
  private readonly access: SccAccess;

  constructor(opts: OpenShiftAdapterOptions) {
    this.identity = opts.identity;
    this.client = opts.client;
    this.platform = opts.platform;
    this.render = opts.render;
    this.randomBytes = opts.randomBytes ?? cryptoRandomBytes;
    this.access = new SccAccess(opts.client, opts.now);
  }

  async preflight(): Promise<void> {
    const { expose, exposePort, openshiftOauthProxy, openshiftScc } = this.platform;
    if (expose !== "none" && expose !== "route") {
      throw new PlatformProblem(
        `--expose ${expose} creates Kyma objects, which OpenShift does not serve (${this.identity.evidence})`,
        "run with --expose route (an OpenShift Route) or --expose none",
      );
    }
    if (openshiftOauthProxy && exposePort === OAUTH_PROXY_PORT) {
      throw new PlatformProblem(
        `--expose-port ${exposePort} is the port the OAuth proxy listens on in the same pod`,
        "expose another sandbox port with --expose-port",
      );
    }
    try {
      const scc = await this.access.scc(openshiftScc);
      if (!scc) throw new PlatformProblem(`SCC "${openshiftScc}" (--openshift-scc) does not exist`, `oc apply -f ${SCC_MANIFEST}, or name an existing SCC with --openshift-scc`);
      if (this.render.workspaceMode !== "shared") return;
      const sa = { namespace: this.render.namespace, name: this.render.serviceAccountName || "default" };
      if (!(await this.access.mayUse(sa, scc))) {
        throw new PlatformProblem(`sandbox pods' ServiceAccount "${serviceAccountUser(sa)}" may not use SCC "${openshiftScc}"`, grantSccCommand(openshiftScc, sa));
      }
      await this.checkLeastPodFits(scc);
    } catch (err) {
      if (err instanceof MissingDriverPermission) throw new PlatformProblem(err.message, err.fix);
      throw err;
    }
  }

  /**
   * Shared mode: if even the least sandbox these flags render (in the driver's namespace, with its
   * ranges) needs more than the SCC allows, every create would be refused; say so at start.
   */
  private async checkLeastPodFits(scc: SecurityContextConstraints): Promise<void> {
    const name = this.render.namespace;
    const namespace = await this.client.request<V1Namespace>({ verb: "get", path: `/api/v1/namespaces/${name}`, resource: "namespaces", name });
    const target = { name, labels: { ...namespace.metadata?.labels }, annotations: { ...namespace.metadata?.annotations } };
    const pod = podAsCreated(this.amend(referenceSandbox(this.render, target.annotations), target));
    const [first] = fitsScc(pod, scc, target.annotations);
    if (!first) return;
    throw new PlatformProblem(
      `sandbox pods rendered with these flags do not fit SCC "${scc.metadata.name}": ${first.field}: ${first.message}`,
      `oc apply -f ${SCC_MANIFEST}, or change the flag that asks for ${first.field}`,
    );
  }

  amend(resource: SandboxResource, target: TargetNamespace): SandboxResource {
    return amendForOpenShift(resource, target, this.platform);
  }

  async checkSandbox(resource: SandboxResource, target: TargetNamespace): Promise<void> {
    const pod = podAsCreated(resource);
    const scc = await this.usableScc({ namespace: target.name, name: podServiceAccount(pod) });
    const misfits = fitsScc(pod, scc, target.annotations);
    const [first, ...rest] = misfits;
    if (!first) return;
    const message = [first.message, ...rest.map((m) => `${m.field}: ${m.message}`)].join("; ");
    throw new SandboxRequestError("FailedPrecondition", first.field, `${message}; the pod would be refused by SCC "${scc.metadata.name}"`);
  }

  async checkNamespace(target: TargetNamespace): Promise<void> {
    await this.usableScc({ namespace: target.name, name: this.render.serviceAccountName || "default" });
  }

  readonly checksNamespace = true;

  namespaceLabels(): Record<string, string> {
    // OpenShift annotates every namespace with its UID, group and MCS ranges itself.
    return {};
  }

  sideObjects(created: SandboxResource): SideObject[] {
    if (this.platform.expose !== "route") return [];
    return [
      ...(this.platform.openshiftOauthProxy ? [cookieSecret(created, this.randomBytes)] : []),
      exposureService(created, this.platform),
      exposureRoute(created, this.platform, this.render.workspaceMode),
    ];
  }

  serviceAccountAnnotations(created: Pick<SandboxResource, "metadata">): Record<string, string> {
    if (this.platform.expose !== "route" || !this.platform.openshiftOauthProxy) return {};
    return oauthRedirectAnnotation(created.metadata.name ?? "");
  }

  /** The pinned SCC, once it is known to exist and `sa` may use it; FAILED_PRECONDITION otherwise. */
  private async usableScc(sa: SandboxServiceAccount): Promise<SecurityContextConstraints> {
    const name = this.platform.openshiftScc;
    try {
      const scc = await this.access.scc(name);
      if (!scc) {
        throw new DriverError("FailedPrecondition", `SCC "${name}" (--openshift-scc) does not exist; apply ${SCC_MANIFEST} or name an existing SCC with --openshift-scc`);
      }
      if (!(await this.access.mayUse(sa, scc))) {
        throw new DriverError(
          "FailedPrecondition",
          `ServiceAccount "${sa.name}" in namespace "${sa.namespace}" may not use SCC "${name}", so its sandbox pods would be refused; fix: ${grantSccCommand(name, sa)}`,
        );
      }
      return scc;
    } catch (err) {
      if (err instanceof MissingDriverPermission) throw new DriverError("FailedPrecondition", `${err.message}; fix: ${err.fix}`);
      throw err;
    }
  }
}
