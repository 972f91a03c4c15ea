// Managed mode: is the ValidatingAdmissionPolicy that confines the driver's cluster-wide writes
// bound and effective for this identity? Tried, not read (driver/admission-fence.ts): a dry-run
// write outside this gateway's workspaces must be refused. serve makes the same probe and does not
// serve until it is refused.
import { probeAdmissionFence, unfencedProblem } from "../driver/admission-fence";
import { fail, messageOf, pass, type CheckResult, type ClusterContext } from "./checks";

const NAME = "admission fence";

export async function admissionFenceCheck(ctx: Pick<ClusterContext, "client" | "config">): Promise<CheckResult> {
  const { namespace, gatewayId, workspaceMode } = ctx.config.render;
  if (workspaceMode !== "managed") return pass(NAME, `n/a in ${workspaceMode} mode: the driver's writes are namespaced by RBAC`);
  try {
    const answer = await probeAdmissionFence(ctx.client, { namespace, gatewayId });
    if (answer.fenced) return pass(NAME, `a dry-run write outside this gateway's workspace namespaces is refused: ${answer.by}`);
    const { message, fix } = unfencedProblem(answer.namespace, gatewayId);
    return fail(NAME, message, fix);
  } catch (err) {
    return fail(NAME, `cannot try a dry-run write in namespace "${namespace}": ${messageOf(err)}`, "check the API server and the kubeconfig");
  }
}
