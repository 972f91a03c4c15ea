// Check 6: may this identity do everything the configuration will ask of it? One
// SelfSubjectAccessReview per verb of every rule in rbac-rules.ts; creating one is allowed to
// every authenticated user (system:basic-user), so the answer never depends on the rules checked.
import type { KubeClient } from "../kube";
import { fail, messageOf, pass, warn, type CheckResult } from "./checks";
import { qualifiedResource, ruleYaml, type RbacRule } from "./rbac-rules";

interface SelfSubjectAccessReview {
  status?: { allowed?: boolean; reason?: string; evaluationError?: string };
}

async function allowed(client: KubeClient, rule: RbacRule, verb: string): Promise<boolean> {
  const [resource, subresource] = rule.resource.split("/");
  const review = await client.request<SelfSubjectAccessReview>({
    verb: "create",
    path: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    resource: "selfsubjectaccessreviews.authorization.k8s.io",
    body: {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectAccessReview",
      spec: {
        resourceAttributes: {
          verb,
          group: rule.group,
          resource,
          ...(subresource ? { subresource } : {}),
          ...(rule.name !== undefined ? { name: rule.name } : {}),
          ...(rule.namespace !== undefined ? { namespace: rule.namespace } : {}),
        },
      },
    },
  });
  return review?.status?.allowed === true;
}

function describeRule(rule: RbacRule, verbs: string[]): string {
  const target = `${qualifiedResource(rule)}${rule.name !== undefined ? ` "${rule.name}"` : ""}`;
  const where = rule.namespace !== undefined ? `in namespace ${rule.namespace}` : "cluster-wide";
  return `${verbs.join(", ")} ${target} ${where}`;
}

/** One PASS when every rule is allowed; else one line per rule with a denied verb. */
export async function rbacChecks(client: KubeClient, rules: RbacRule[]): Promise<CheckResult[]> {
  let answers: boolean[][];
  try {
    answers = await Promise.all(rules.map((rule) => Promise.all(rule.verbs.map((verb) => allowed(client, rule, verb)))));
  } catch (err) {
    return [fail("rbac", `cannot ask the API server (SelfSubjectAccessReview): ${messageOf(err)}`, "check the API server and the kubeconfig")];
  }
  const results: CheckResult[] = [];
  rules.forEach((rule, i) => {
    const denied = rule.verbs.filter((_, j) => !answers[i]![j]);
    if (denied.length === 0) return;
    const name = `rbac ${denied.join(",")} ${qualifiedResource(rule)}`;
    const detail = `may not ${describeRule(rule, denied)}, which ${rule.feature} needs${rule.optional ? " (serve runs without it, with that feature degraded)" : ""}`;
    const where = rule.namespace !== undefined ? ` in namespace ${rule.namespace}` : "";
    const fix = `grant ${ruleYaml(rule, denied)} as ${rule.manifest} does${where}`;
    results.push(rule.optional ? warn(name, detail, fix) : fail(name, detail, fix));
  });
  if (results.length > 0) return results;
  const verbs = rules.reduce((sum, r) => sum + r.verbs.length, 0);
  return [pass("rbac", `all ${verbs} verbs on the ${rules.length} resources this configuration uses are allowed`)];
}
