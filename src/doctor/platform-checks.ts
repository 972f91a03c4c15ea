// Check 7: the platform as serve detects it, and what that platform needs before a sandbox can
// run: on OpenShift the SCC sandbox pods are pinned to exists, their ServiceAccount may use it and
// the least pod fits it (each its own line, so one fix does not hide the next); elsewhere the
// adapter's own start-up preflight, and on Kyma with VirtualServices the cluster domain.
import type { V1PodSpec } from "@kubernetes/client-node";
import { createPlatformAdapter, detectPlatform, PlatformProblem, type PlatformAdapter, type PlatformIdentity, type TargetNamespace } from "../platform";
import { KymaAdapter } from "../platform/kyma/adapter";
import { fitsScc } from "../platform/openshift/fits-scc";
import { grantSccCommand, MissingDriverPermission, SccAccess, serviceAccountUser } from "../platform/openshift/scc-access";
import { podAsCreated } from "../platform/pod-as-created";
import { referenceSandbox } from "../platform/reference-pod";
import { fail, messageOf, pass, warn, type CheckResult, type ClusterContext } from "./checks";
import type { NamespaceRead } from "./cluster-checks";

const SCC_MANIFEST = "deploy/openshift/sandbox-scc.yaml";

export async function detectionCheck(ctx: Pick<ClusterContext, "client" | "config">): Promise<{ result: CheckResult; identity?: PlatformIdentity }> {
  try {
    const identity = await detectPlatform(ctx.client, ctx.config.platform.platform);
    const version = identity.version ? ` ${identity.version}` : "";
    return { result: pass("platform", `${identity.name}${version} (${identity.evidence})`), identity };
  } catch (err) {
    return { result: fail("platform", `cannot detect the platform: ${messageOf(err)}`, "--platform=kubernetes|openshift|kyma to skip detection") };
  }
}

/** The namespace as the adapters see it; empty labels and annotations when it could not be read. */
export function targetNamespace(name: string, read: NamespaceRead): TargetNamespace {
  const metadata = "found" in read ? read.found.metadata : undefined;
  return { name, labels: { ...metadata?.labels }, annotations: { ...metadata?.annotations } };
}

/** The least sandbox's pod as the platform amends it: what Pod Security and the SCC judge. */
export function leastPod(ctx: ClusterContext, adapter: PlatformAdapter | undefined, target: TargetNamespace): V1PodSpec {
  const sandbox = referenceSandbox(ctx.render, target.annotations);
  return podAsCreated(adapter ? adapter.amend(sandbox, target) : sandbox);
}

export function adapterFor(ctx: ClusterContext, identity: PlatformIdentity): PlatformAdapter {
  return createPlatformAdapter({ client: ctx.client, identity, platform: ctx.config.platform, render: ctx.render });
}

function problemResult(name: string, err: unknown): CheckResult {
  if (err instanceof PlatformProblem) return fail(name, err.message.slice(0, err.message.length - `; fix: ${err.fix}`.length), err.fix);
  if (err instanceof MissingDriverPermission) return fail(name, err.message, err.fix);
  return fail(name, messageOf(err), "check the API server and the kubeconfig");
}

async function openShiftChecks(ctx: ClusterContext, adapter: PlatformAdapter, target: TargetNamespace, namespaceRead: NamespaceRead): Promise<CheckResult[]> {
  const sccName = ctx.config.platform.openshiftScc;
  const access = new SccAccess(ctx.client);
  let scc;
  try {
    scc = await access.scc(sccName);
  } catch (err) {
    return [problemResult("scc", err)];
  }
  if (!scc) return [fail("scc", `SCC "${sccName}" (--openshift-scc) does not exist`, `oc apply -f ${SCC_MANIFEST}, or name an existing SCC with --openshift-scc`)];
  const results = [pass("scc", `SCC "${sccName}" exists`)];
  if (ctx.config.render.workspaceMode !== "shared") {
    results.push(pass("scc use", `n/a in ${ctx.config.render.workspaceMode} mode: each workspace's ServiceAccount is checked when the workspace is ensured`));
    return results;
  }
  const sa = { namespace: ctx.config.render.namespace, name: ctx.config.render.serviceAccountName || "default" };
  try {
    results.push(
      (await access.mayUse(sa, scc))
        ? pass("scc use", `ServiceAccount "${serviceAccountUser(sa)}" may use SCC "${sccName}"`)
        : fail("scc use", `sandbox pods' ServiceAccount "${serviceAccountUser(sa)}" may not use SCC "${sccName}"`, grantSccCommand(sccName, sa)),
    );
  } catch (err) {
    results.push(problemResult("scc use", err));
  }
  if (!("found" in namespaceRead)) {
    results.push(warn("scc fit", `cannot tell: namespace "${sa.namespace}" (its UID range shapes the pod) is not readable`));
    return results;
  }
  const [first, ...rest] = fitsScc(leastPod(ctx, adapter, target), scc, target.annotations);
  results.push(
    first
      ? fail("scc fit", `sandbox pods rendered with these flags do not fit SCC "${sccName}": ${first.field}: ${first.message}${rest.length ? ` (and ${rest.length} more)` : ""}`, `oc apply -f ${SCC_MANIFEST}, or change the flag that asks for ${first.field}`)
      : pass("scc fit", `the least sandbox pod fits SCC "${sccName}"`),
  );
  return results;
}

/** Everything after detection; `adapter` is undefined when detection failed. */
export async function platformChecks(ctx: ClusterContext, adapter: PlatformAdapter | undefined, namespaceRead: NamespaceRead): Promise<CheckResult[]> {
  if (!adapter) return [];
  const target = targetNamespace(ctx.config.render.namespace, namespaceRead);
  const results = adapter.identity.name === "openshift" ? await openShiftChecks(ctx, adapter, target, namespaceRead) : [];
  // On OpenShift the preflight repeats the SCC checks: run it for its exposure rules only once those pass.
  if (results.some((r) => r.status === "FAIL")) return results;
  try {
    await adapter.preflight();
    results.push(pass("platform preflight", `the ${adapter.identity.name} adapter accepts these flags`));
  } catch (err) {
    results.push(problemResult("platform preflight", err));
    return results;
  }
  if (adapter instanceof KymaAdapter && ctx.config.platform.expose === "virtualservice") {
    const domain = adapter.clusterDomain;
    if (domain) results.push(pass("cluster domain", `sandboxes are exposed under *.${domain.domain} (${domain.source})`));
  }
  return results;
}
