// The pod features the flags turn on against what this API server keeps, from the same probe and
// the same verdict serve uses (src/driver/pod-feature-probe.ts, pod-feature-guard.ts), and the
// supervisor image's tag: a moving tag makes sandboxes of one gateway run different supervisors.
import { flagFeatureProblem, flagFeatures } from "../driver/pod-feature-guard";
import { probePodFeatures, probedFeatures } from "../driver/pod-feature-probe";
import { POD_FEATURES, requestFieldOf } from "../sandbox/pod-features";
import { fail, messageOf, pass, warn, type CheckResult, type ClusterContext } from "./checks";

/** Check 8: every pod feature the flags turn on is kept by this API server (a dry run, nothing stored). */
export async function podFeaturesCheck(ctx: Pick<ClusterContext, "client" | "render" | "serverVersion">): Promise<CheckResult> {
  const name = "pod features";
  let report;
  try {
    report = await probePodFeatures(ctx.client, ctx.render, ctx.serverVersion);
  } catch (err) {
    return warn(name, `cannot tell which pod features Kubernetes ${ctx.serverVersion.gitVersion} keeps: ${messageOf(err)}`);
  }
  const problem = flagFeatureProblem(report, ctx.render);
  if (problem) return fail(name, problem.message.replace(/; fix: .*$/, ""), problem.fix);
  const on = new Set(flagFeatures(ctx.render));
  const parts = probedFeatures(ctx.render).map((id) => {
    const support = report.features[id]!;
    const feature = POD_FEATURES[id];
    if (support.kept) return `${feature.title}: kept${on.has(id) ? ` (${feature.flag})` : ""}, by ${support.evidence}`;
    return `${feature.title}: dropped by Kubernetes ${report.version.gitVersion} (${feature.gate} off), so requests setting ${requestFieldOf(id)} are refused; by ${support.evidence}`;
  });
  const others = report.otherLosses.length > 0 ? `; the API server also drops ${report.otherLosses.join(", ")}` : "";
  return (report.otherLosses.length > 0 ? warn : pass)(name, parts.join("; ") + others);
}

/** A tag that names no fixed image: `latest`, none at all, or a branch-like moving name. */
const MOVING_TAGS = new Set(["latest", "main", "master", "edge", "nightly", "dev"]);

/** Check 10: the supervisor image is pinned (a version tag or a digest), not a tag that moves. */
export function supervisorImageCheck(ctx: Pick<ClusterContext, "config">): CheckResult {
  const name = "supervisor image";
  const image = ctx.config.render.supervisorImage;
  if (image.includes("@")) return pass(name, `${image} is pinned by digest`);
  const slash = image.lastIndexOf("/");
  const colon = image.lastIndexOf(":");
  const tag = colon > slash ? image.slice(colon + 1) : undefined;
  if (tag === undefined || MOVING_TAGS.has(tag)) {
    return warn(
      name,
      `${image} is a moving tag${tag === undefined ? " (none given: latest)" : ""}: sandboxes started at different times can run different supervisors, and one that no longer matches the gateway`,
      "--supervisor-image=<image>:<the gateway's version> (or @sha256:<digest>)",
    );
  }
  return pass(name, `${image} is pinned to tag ${tag}`);
}
