// Kyma (SAP BTP, Gardener): Pod Security admission decides whether the sandbox pod may run at all,
// Istio decides whether it joins the mesh, and the Kyma gateway exposes it (APIRule or
// VirtualService). Sandbox pods need privileged unless the cluster is configured otherwise, and
// the driver says so with the exact kubectl line before the API server refuses the pod.
import type { V1PodSpec } from "@kubernetes/client-node";
import { isKubeApiError, type KubeClient } from "../../kube";
import { logger } from "../../log";
import { SandboxRequestError } from "../../sandbox/errors";
import type { RenderSettings } from "../../sandbox/settings";
import type { SandboxResource } from "../../sandbox/types";
import {
  describeNamespaceLevel,
  LABEL_PSA_ENFORCE,
  levelAllows,
  namespaceEnforceLevel,
  requiredPodSecurityLevel,
} from "../pod-security";
import { podAsCreated } from "../pod-as-created";
import type { PlatformSettings } from "../settings";
import { type PlatformAdapter, type PlatformIdentity, PlatformProblem, type SideObject, type TargetNamespace } from "../types";
import { amendForKyma } from "./amend";
import { resolveClusterDomain, type ResolvedClusterDomain } from "./cluster-domain";
import { kymaSideObjects } from "./exposure";

const log = logger("platform");
/** Reasons quoted in a refusal; the rest are counted, so the message stays readable. */
const REASONS_SHOWN = 3;

export interface KymaAdapterOptions {
  client: KubeClient;
  identity: PlatformIdentity;
  platform: PlatformSettings;
  render: RenderSettings;
  /** The pod of a minimal sandbox with the configured settings: checked where no request exists yet. */
  referencePod: V1PodSpec;
}

interface PodSecurityMisfit {
  message: string;
  fix: string;
}

export class KymaAdapter implements PlatformAdapter {
  readonly identity: PlatformIdentity;
  private readonly client: KubeClient;
  private readonly platform: PlatformSettings;
  private readonly render: RenderSettings;
  private readonly referencePod: V1PodSpec;
  private domain: ResolvedClusterDomain | undefined;

  constructor(options: KymaAdapterOptions) {
    this.identity = options.identity;
    this.client = options.client;
    this.platform = options.platform;
    this.render = options.render;
    this.referencePod = options.referencePod;
  }

  /** The public domain resolved at preflight; undefined before, or when nothing needs it. */
  get clusterDomain(): ResolvedClusterDomain | undefined {
    return this.domain;
  }

  async preflight(): Promise<void> {
    const { expose } = this.platform;
    if (expose !== "none" && expose !== "apirule" && expose !== "virtualservice") {
      throw new PlatformProblem(
        `--expose=${expose} is not a Kyma exposure (Routes are OpenShift's)`,
        "--expose=apirule, --expose=virtualservice or --expose=none",
      );
    }
    // The pod label is always written, so without --istio-inject no sandbox has a sidecar, and
    // api-gateway puts an APIRule v2 whose workload is outside the mesh into Error.
    if (expose === "apirule" && !this.platform.istioInject) {
      throw new PlatformProblem(
        "--expose=apirule needs sandbox pods in the Istio mesh (APIRule v2 reports Error otherwise), but --istio-inject=false",
        "--istio-inject=true, or --expose=virtualservice, which needs no sidecar",
      );
    }
    if (this.render.workspaceMode === "shared") await this.checkDriverNamespace();
    // Only a VirtualService names the domain; an APIRule's short host takes it from the Gateway.
    if (expose === "virtualservice" && this.domain === undefined) {
      this.domain = await resolveClusterDomain(this.client, this.platform.clusterDomain, log);
      log.info(`exposed sandboxes are reached under *.${this.domain.domain}`, { source: this.domain.source });
    }
  }

  amend(resource: SandboxResource, _target: TargetNamespace): SandboxResource {
    return amendForKyma(resource, this.platform.istioInject);
  }

  async checkSandbox(resource: SandboxResource, target: TargetNamespace): Promise<void> {
    const misfit = podSecurityMisfit(podAsCreated(resource), target, "this sandbox's pod needs");
    if (misfit) throw new SandboxRequestError("FailedPrecondition", "sandbox.workspace", `${misfit.message}; fix: ${misfit.fix}`);
  }

  async checkNamespace(target: TargetNamespace): Promise<void> {
    const misfit = podSecurityMisfit(this.referencePod, target, "sandbox pods need");
    if (misfit) throw new SandboxRequestError("FailedPrecondition", "workspace", `${misfit.message}; fix: ${misfit.fix}`);
  }

  readonly checksNamespace = true;

  namespaceLabels(): Record<string, string> {
    return { [LABEL_PSA_ENFORCE]: requiredPodSecurityLevel(this.referencePod).level };
  }

  sideObjects(created: SandboxResource): SideObject[] {
    const { expose, exposePort, kymaGateway } = this.platform;
    if (expose !== "apirule" && expose !== "virtualservice") return [];
    if (expose === "virtualservice" && this.domain === undefined) {
      throw new Error("VirtualService exposure needs the cluster domain, which preflight resolves");
    }
    return kymaSideObjects(created, { kind: expose, port: exposePort, gateway: kymaGateway, domain: this.domain?.domain ?? "" });
  }

  serviceAccountAnnotations(_created: Pick<SandboxResource, "metadata">): Record<string, string> {
    return {};
  }

  /** Shared mode: every sandbox goes into the driver's namespace, so check it once at start. */
  private async checkDriverNamespace(): Promise<void> {
    const name = this.render.namespace;
    let namespace: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } };
    try {
      namespace = await this.client.request({ verb: "get", path: `/api/v1/namespaces/${name}`, resource: "namespaces", name });
    } catch (err) {
      if (isKubeApiError(err, 404)) {
        throw new PlatformProblem(`namespace "${name}" (--namespace, where shared mode creates every sandbox) does not exist`, `kubectl create namespace ${name}`);
      }
      throw err;
    }
    const target: TargetNamespace = {
      name,
      labels: namespace.metadata?.labels ?? {},
      annotations: namespace.metadata?.annotations ?? {},
    };
    const misfit = podSecurityMisfit(this.referencePod, target, "sandbox pods need");
    if (misfit) throw new PlatformProblem(misfit.message, misfit.fix);
    const needed = requiredPodSecurityLevel(this.referencePod).level;
    if (target.labels[LABEL_PSA_ENFORCE] === undefined && needed !== "restricted") {
      // Only the API server knows its AdmissionConfiguration default; say what was assumed, so a
      // stricter default that refuses the pods later is recognisable.
      log.warn(
        `namespace "${name}" has ${describeNamespaceLevel(target.labels)}; sandbox pods need ${needed}. If the cluster default is stricter, run: kubectl label ns ${name} ${LABEL_PSA_ENFORCE}=${needed} --overwrite`,
      );
    }
  }
}

/** Why `target`'s Pod Security level refuses `pod`, with the label that admits it; undefined = it fits. */
function podSecurityMisfit(pod: V1PodSpec, target: TargetNamespace, subject: string): PodSecurityMisfit | undefined {
  const needed = requiredPodSecurityLevel(pod);
  if (levelAllows(namespaceEnforceLevel(target.labels), needed.level)) return undefined;
  const shown = needed.reasons.slice(0, REASONS_SHOWN).join("; ");
  const more = needed.reasons.length > REASONS_SHOWN ? ` (and ${needed.reasons.length - REASONS_SHOWN} more)` : "";
  return {
    message:
      `${subject} Pod Security level ${needed.level}, but namespace "${target.name}" has ${describeNamespaceLevel(target.labels)}: ` +
      `${shown}${more}`,
    fix: `kubectl label ns ${target.name} ${LABEL_PSA_ENFORCE}=${needed.level} --overwrite`,
  };
}
