// May a sandbox's ServiceAccount use the SCC its pods are pinned to, and what does that SCC allow?
// SCC admission lets a pod in under an SCC when the pod's ServiceAccount (or the user creating the
// pod) may `use` it through RBAC, or is listed in the SCC's own `users`/`groups`. The RBAC half is
// asked with a SubjectAccessReview; the lists are read from the SCC. Allowed answers and SCCs are
// cached for a short while: every create asks, and a grant rarely disappears in 30 s, while a
// denial is asked again at once so a fix takes effect on the next try.

import { isKubeApiError, type KubeClient } from "../../kube";
import { authorizationDenialOf } from "../../kube/errors";
import type { SecurityContextConstraints } from "./scc";

const CACHE_MS = 30_000;
const SCC_GROUP = "security.openshift.io";
const SCC_RESOURCE = "securitycontextconstraints";

export interface SandboxServiceAccount {
  namespace: string;
  name: string;
}

/** `system:serviceaccount:<ns>:<sa>`, the user name the API server gives a ServiceAccount. */
export function serviceAccountUser(sa: SandboxServiceAccount): string {
  return `system:serviceaccount:${sa.namespace}:${sa.name}`;
}

function serviceAccountGroups(sa: SandboxServiceAccount): string[] {
  return ["system:serviceaccounts", `system:serviceaccounts:${sa.namespace}`, "system:authenticated"];
}

/** The fix an administrator runs: a RoleBinding granting `use` on the SCC in that namespace. */
export function grantSccCommand(scc: string, sa: SandboxServiceAccount): string {
  return `oc adm policy add-scc-to-user ${scc} -z ${sa.name} -n ${sa.namespace}`;
}

/** The driver's own ServiceAccount lacks a rule these checks need; `fix` names the rule. */
export class MissingDriverPermission extends Error {
  override readonly name = "MissingDriverPermission";

  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

interface SubjectAccessReviewStatus {
  status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string };
}

interface DriverRule {
  verb: string;
  group: string;
  resource: string;
  resourceName?: string;
}

/**
 * A 403 that is an authorization denial of the driver itself. A starting API server (not ready)
 * or credentials it does not recognise yet (system:anonymous) are not missing rules: those stay
 * KubeApiErrors, which the gRPC face answers as UNAVAILABLE.
 */
function missingRule(err: unknown, rule: DriverRule): MissingDriverPermission | undefined {
  if (!isKubeApiError(err, 403) || err.apiServerReady === false) return undefined;
  const denial = authorizationDenialOf(err);
  if (denial?.user === "system:anonymous") return undefined;
  const who = denial ? `the driver's identity "${denial.user}"` : "the driver";
  const names = rule.resourceName !== undefined ? `, resourceNames: [${rule.resourceName}]` : "";
  return new MissingDriverPermission(
    `${who} may not ${rule.verb} ${rule.resource}.${rule.group} (cluster-scoped), which the OpenShift SCC checks need`,
    `grant it in the driver's ClusterRole: {apiGroups: [${rule.group}], resources: [${rule.resource}]${names}, verbs: [${rule.verb}]}`,
  );
}

export class SccAccess {
  private readonly allowed = new Map<string, number>();
  private readonly sccs = new Map<string, { scc: SecurityContextConstraints; until: number }>();

  constructor(
    private readonly client: KubeClient,
    private readonly now: () => number = Date.now,
  ) {}

  /** The SCC as the API serves it; undefined when it does not exist. */
  async scc(name: string): Promise<SecurityContextConstraints | undefined> {
    const cached = this.sccs.get(name);
    if (cached && cached.until > this.now()) return cached.scc;
    let scc: SecurityContextConstraints;
    try {
      scc = await this.client.request<SecurityContextConstraints>({
        verb: "get",
        path: `/apis/${SCC_GROUP}/v1/${SCC_RESOURCE}/${encodeURIComponent(name)}`,
        resource: `${SCC_RESOURCE}.${SCC_GROUP}`,
        name,
      });
    } catch (err) {
      if (isKubeApiError(err, 404)) return undefined;
      throw missingRule(err, { verb: "get", group: SCC_GROUP, resource: SCC_RESOURCE, resourceName: name }) ?? err;
    }
    this.sccs.set(name, { scc, until: this.now() + CACHE_MS });
    return scc;
  }

  /** Whether admission would let `sa`'s pods use `scc`: by the SCC's own lists or by RBAC. */
  async mayUse(sa: SandboxServiceAccount, scc: SecurityContextConstraints): Promise<boolean> {
    const user = serviceAccountUser(sa);
    if (scc.users?.includes(user)) return true;
    if (serviceAccountGroups(sa).some((g) => scc.groups?.includes(g))) return true;

    const key = `${sa.namespace}/${sa.name}/${scc.metadata.name}`;
    const until = this.allowed.get(key);
    if (until !== undefined && until > this.now()) return true;
    const allowed = await this.review(sa, scc.metadata.name);
    if (allowed) this.allowed.set(key, this.now() + CACHE_MS);
    else this.allowed.delete(key);
    return allowed;
  }

  private async review(sa: SandboxServiceAccount, scc: string): Promise<boolean> {
    const body = {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: {
        user: serviceAccountUser(sa),
        groups: serviceAccountGroups(sa),
        resourceAttributes: { namespace: sa.namespace, verb: "use", group: SCC_GROUP, resource: SCC_RESOURCE, name: scc },
      },
    };
    try {
      const review = await this.client.request<SubjectAccessReviewStatus>({
        verb: "create",
        path: "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        resource: "subjectaccessreviews.authorization.k8s.io",
        body,
      });
      return review?.status?.allowed === true;
    } catch (err) {
      throw missingRule(err, { verb: "create", group: "authorization.k8s.io", resource: "subjectaccessreviews" }) ?? err;
    }
  }
}
