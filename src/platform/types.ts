// The one interface the rest of the driver calls for what differs between Kubernetes, OpenShift
// and Kyma. Pure parts (amend, sideObjects) are golden-tested; checks may read the cluster.
import type { SandboxResource } from "../sandbox/types";
import type { PlatformName } from "./settings";

/** The namespace a sandbox goes into, as read from the API server (absent = not created yet). */
export interface TargetNamespace {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

/** A Kubernetes object created beside a sandbox; garbage-collected with its Sandbox CR. */
export interface SideObject {
  /** REST collection path the object is POSTed to, e.g. `/api/v1/namespaces/ns/services`. */
  path: string;
  /** `services`, `routes.route.openshift.io`…: for RBAC error messages and logs. */
  resource: string;
  body: {
    apiVersion: string;
    kind: string;
    metadata: {
      name: string;
      namespace: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
      ownerReferences: OwnerReference[];
    };
    [field: string]: unknown;
  };
}

/** The platform and why it was chosen, for the start log, `/readyz` and the platform metric. */
export interface PlatformIdentity {
  name: PlatformName;
  /** e.g. `--platform=openshift`, `served: security.openshift.io/v1; ClusterVersion 4.16.3`. */
  evidence: string;
  /** OpenShift: the ClusterVersion's version; empty where unknown. */
  version: string;
}

export interface PlatformAdapter {
  readonly identity: PlatformIdentity;
  /**
   * Its checks judge the target namespace (Pod Security level, SELinux level), so the namespace
   * is read for every sandbox, even when nothing is rendered from it (a fixed sandbox UID).
   */
  readonly checksNamespace: boolean;
  /**
   * Once at start, after connecting: throws PlatformProblem (message with a fix line) when the
   * driver cannot work here with these flags; the driver keeps retrying and reports it.
   */
  preflight(): Promise<void>;
  /** Pure: the CR as this platform needs it (annotations, labels, security context, sidecars). */
  amend(resource: SandboxResource, target: TargetNamespace): SandboxResource;
  /**
   * ValidateSandboxCreate and CreateSandbox, on the amended CR: throws SandboxRequestError or
   * DriverError (FAILED_PRECONDITION with the fix) when the platform would refuse its pod.
   */
  checkSandbox(resource: SandboxResource, target: TargetNamespace): Promise<void>;
  /** EnsureWorkspace (operator and managed mode): the same checks for a namespace, no sandbox yet. */
  checkNamespace(target: TargetNamespace): Promise<void>;
  /** Labels a namespace the driver creates (managed mode) must carry on this platform. */
  namespaceLabels(): Record<string, string>;
  /**
   * Pure: objects to create beside a created CR (it has its uid), each owner-referenced to it
   * (src/platform/side-objects.ts). Their failure is a Warning event, never a failed create.
   */
  sideObjects(created: SandboxResource): SideObject[];
  /**
   * Pure: annotations the sandbox pods' ServiceAccount needs for this sandbox (OpenShift OAuth
   * redirect references); merged onto it after create, removed again on delete. Empty = none.
   */
  serviceAccountAnnotations(created: Pick<SandboxResource, "metadata">): Record<string, string>;
}

/** The driver cannot work on this platform with these flags; `fix` is the command or flag to change. */
export class PlatformProblem extends Error {
  override readonly name = "PlatformProblem";

  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(`${message}; fix: ${fix}`);
  }
}
