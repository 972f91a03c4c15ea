// The driver's answer to an API server that would silently weaken its pods: a feature the flags
// turn on for every sandbox and the server drops stops the driver serving (FailedPrecondition at
// start and on every create), and a feature one request asks for is refused for that request. The
// report is renewed whenever the API server's version changes (an upgrade or a downgrade).
import type { V1PodSpec } from "@kubernetes/client-node";
import { droppedMessage, featureFix, POD_FEATURES, podFeaturesUsed, requestFieldOf, type PodFeatureId } from "../sandbox/pod-features";
import type { RenderSettings } from "../sandbox/settings";
import { DriverError } from "./errors";
import type { PodFeatureReport } from "./pod-feature-probe";

/** A configuration the cluster would weaken: only the operator can fix it (flag, gate or upgrade). */
export class PodFeatureProblem extends Error {
  override readonly name = "PodFeatureProblem";

  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(`${message}; fix: ${fix}`);
  }
}

/** The features the driver's flags turn on for every sandbox. */
export function flagFeatures(settings: Pick<RenderSettings, "enableUserNamespaces" | "supervisorSideload">): PodFeatureId[] {
  const on: PodFeatureId[] = [];
  if (settings.enableUserNamespaces) on.push("user-namespaces");
  if (settings.supervisorSideload === "image-volume") on.push("image-volume");
  return on;
}

/** The first flag-driven feature the server drops, as the problem that stops the driver; else undefined. */
export function flagFeatureProblem(report: PodFeatureReport, settings: Pick<RenderSettings, "enableUserNamespaces" | "supervisorSideload">): PodFeatureProblem | undefined {
  for (const id of flagFeatures(settings)) {
    const support = report.features[id];
    if (support === undefined || support.kept) continue;
    const feature = POD_FEATURES[id];
    return new PodFeatureProblem(`${feature.flag} cannot be served: ${droppedMessage(feature, report.version, support.fields)}`, featureFix(feature));
  }
  return undefined;
}

export class PodFeatureGuard {
  #report: PodFeatureReport;
  readonly #settings: Pick<RenderSettings, "enableUserNamespaces" | "supervisorSideload">;

  constructor(report: PodFeatureReport, settings: Pick<RenderSettings, "enableUserNamespaces" | "supervisorSideload">) {
    this.#report = report;
    this.#settings = settings;
  }

  /** The API server version the report was made for. */
  get version(): string {
    return this.#report.version.gitVersion;
  }

  update(report: PodFeatureReport): void {
    this.#report = report;
  }

  /** Why the driver cannot serve its flags on this server now (for /readyz); undefined when it can. */
  problem(): string | undefined {
    return flagFeatureProblem(this.#report, this.#settings)?.message;
  }

  /** Throws FailedPrecondition when the pod a sandbox renders to uses a feature this server drops. */
  checkPod(spec: V1PodSpec): void {
    const flagProblem = flagFeatureProblem(this.#report, this.#settings);
    if (flagProblem) throw new DriverError("FailedPrecondition", flagProblem.message);
    for (const id of podFeaturesUsed(spec)) {
      const support = this.#report.features[id];
      if (support === undefined || support.kept) continue;
      const feature = POD_FEATURES[id];
      throw new DriverError(
        "FailedPrecondition",
        `${requestFieldOf(id)} asks for ${feature.title}, which this cluster would silently drop: ${droppedMessage(feature, this.#report.version, support.fields)}; ` +
          `leave ${requestFieldOf(id)} unset, or ask the operator to ${featureFix(feature).replace(/, or start the driver with .*$/, "")}`,
      );
    }
  }
}
