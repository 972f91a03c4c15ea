// Which pod features this API server keeps, asked of the server itself: a server-side dry run
// (`dryRun=All`, nothing stored) of the sandbox pod as rendered with each feature on, compared
// field by field with what the server would store (src/sandbox/pod-features.ts).
//
// The dry run creates a PodTemplate, not a Pod: the API server passes a PodTemplate's pod through
// the same gate-driven field dropping (pkg/api/pod DropDisabledTemplateFields) and the same pod
// validation, and `create podtemplates` lets the driver start nothing, where `create pods` would
// let it run any pod as any ServiceAccount of the namespace. Admission that only pods get (Pod
// Security, ServiceAccount, RuntimeClass, SCC) cannot refuse the probe for reasons of its own.
import type { V1PodSpec } from "@kubernetes/client-node";
import { isKubeApiError, type KubeApiError, type KubeClient } from "../kube";
import { referencePod } from "../platform/reference-pod";
import {
  featureOfPath,
  lostFields,
  namedPath,
  onByDefault,
  pathsInInvalidMessage,
  POD_FEATURES,
  type FeatureSupport,
  type PodFeatureId,
  type ServerVersion,
} from "../sandbox/pod-features";
import type { RenderSettings } from "../sandbox/settings";

/** What one API server keeps of the features the driver may render, as found at one moment. */
export interface PodFeatureReport {
  version: ServerVersion;
  features: Partial<Record<PodFeatureId, FeatureSupport>>;
  /** Fields the server dropped that belong to no known feature (reported, never fatal). */
  otherLosses: string[];
}

interface PodTemplate {
  template?: { spec?: V1PodSpec };
}

/** `/version` as numbers; managed clusters report a minor such as "33+", gitVersion is the fallback. */
export function serverVersionOf(version: { major?: unknown; minor?: unknown; gitVersion: string }): ServerVersion {
  const fromGit = /^v(\d+)\.(\d+)/.exec(version.gitVersion);
  const major = Number.parseInt(String(version.major), 10) || Number(fromGit?.[1] ?? 0);
  const minor = Number.parseInt(String(version.minor), 10) || Number(fromGit?.[2] ?? 0);
  return { major, minor, gitVersion: version.gitVersion };
}

/**
 * The rendered pod with `feature` on and the other feature off, so each is judged alone. Fields
 * that name other objects (ServiceAccount, RuntimeClass) go: they decide nothing here.
 */
function probeSpec(settings: RenderSettings, feature: PodFeatureId): V1PodSpec {
  const variant: RenderSettings =
    feature === "user-namespaces"
      ? { ...settings, enableUserNamespaces: true, supervisorSideload: "init-container" }
      : { ...settings, enableUserNamespaces: false, supervisorSideload: "image-volume" };
  const { serviceAccountName: _sa, runtimeClassName: _rc, ...spec } = referencePod(variant);
  return spec as V1PodSpec;
}

/** The features worth probing: user namespaces always (a request may ask), the image volume when the flag asks. */
export function probedFeatures(settings: Pick<RenderSettings, "supervisorSideload">): PodFeatureId[] {
  return settings.supervisorSideload === "image-volume" ? ["user-namespaces", "image-volume"] : ["user-namespaces"];
}

function byVersion(feature: PodFeatureId, version: ServerVersion, why: string): FeatureSupport {
  const f = POD_FEATURES[feature];
  const evidence = `inferred from the version (${why})`;
  return onByDefault(f, version) ? { kept: true, evidence } : { kept: false, fields: [fieldOf(feature)], evidence };
}

function fieldOf(feature: PodFeatureId): string {
  return feature === "user-namespaces" ? "spec.hostUsers" : "spec.volumes[].image";
}

/** Refusals that say nothing about the feature (permission, quota, a server in trouble). */
function transient(err: KubeApiError): boolean {
  return err.status === 0 || err.status === 429 || err.status >= 500;
}

export async function probePodFeatures(client: KubeClient, settings: RenderSettings, version: ServerVersion): Promise<PodFeatureReport> {
  const report: PodFeatureReport = { version, features: {}, otherLosses: [] };
  const namespace = settings.namespace;
  for (const feature of probedFeatures(settings)) {
    const spec = probeSpec(settings, feature);
    let stored: PodTemplate;
    try {
      stored = await client.request<PodTemplate>({
        verb: "create",
        path: `/api/v1/namespaces/${namespace}/podtemplates`,
        query: { dryRun: "All" },
        resource: "podtemplates",
        namespace,
        body: { apiVersion: "v1", kind: "PodTemplate", metadata: { generateName: "openshell-feature-probe-", namespace }, template: { spec } },
      });
    } catch (err) {
      if (!isKubeApiError(err) || transient(err)) throw err;
      if (err.status === 422) {
        // A server that does not know a field discards it, then finds the rest invalid (1.30: an
        // image volume without its `image` has no volume type).
        const fields = pathsInInvalidMessage(err.detail).map((p) => namedPath(spec, p)).filter((p) => featureOfPath(spec, p) === feature);
        if (fields.length > 0) {
          report.features[feature] = { kept: false, fields, evidence: `a server-side dry run refused the pod: ${err.detail}` };
          continue;
        }
      }
      report.features[feature] = byVersion(feature, version, `the dry run was refused: ${err.detail}`);
      continue;
    }
    const lost = lostFields(spec, stored.template?.spec ?? {});
    const mine = lost.filter((p) => featureOfPath(spec, p) === feature);
    report.otherLosses.push(...lost.filter((p) => featureOfPath(spec, p) === undefined && !report.otherLosses.includes(p)));
    report.features[feature] =
      mine.length > 0
        ? { kept: false, fields: mine, evidence: "a server-side dry run of the sandbox pod" }
        : { kept: true, evidence: "a server-side dry run of the sandbox pod" };
  }
  return report;
}
