// The public domain exposed Kyma sandboxes are reached under, found the way Kyma's api-gateway
// operator finds it (internal/reconciliations/gateway/domain.go): Gardener writes the shoot's DNS
// domain into kube-system/shoot-info; a cluster without that ConfigMap is not a Gardener shoot and
// its kyma-gateway serves `*.local.kyma.dev`.
import { isKubeApiError, type KubeClient } from "../../kube";
import type { Logger } from "../../log";
import { PlatformProblem } from "../types";

export const SHOOT_INFO_PATH = "/api/v1/namespaces/kube-system/configmaps/shoot-info";
/** The domain api-gateway's kyma-gateway falls back to off Gardener. */
export const LOCAL_KYMA_DOMAIN = "local.kyma.dev";

export interface ResolvedClusterDomain {
  domain: string;
  /** `--cluster-domain`, `kube-system/shoot-info data.domain` or the fallback and why. */
  source: string;
}

interface ConfigMap {
  data?: Record<string, string>;
}

/**
 * `--cluster-domain` when set; else shoot-info's `data.domain`; else local.kyma.dev. A shoot-info
 * without `domain` is a broken Gardener cluster, not a non-Gardener one, so it stops start-up
 * rather than guess. A 403 falls back too, with a warning naming the missing rule.
 */
export async function resolveClusterDomain(client: KubeClient, flag: string, log: Logger): Promise<ResolvedClusterDomain> {
  if (flag !== "") return { domain: flag, source: "--cluster-domain" };
  let shootInfo: ConfigMap;
  try {
    shootInfo = await client.request<ConfigMap>({
      verb: "get",
      path: SHOOT_INFO_PATH,
      resource: "configmaps",
      namespace: "kube-system",
      name: "shoot-info",
    });
  } catch (err) {
    if (isKubeApiError(err, 404)) return { domain: LOCAL_KYMA_DOMAIN, source: "no kube-system/shoot-info (not a Gardener cluster)" };
    if (isKubeApiError(err, 403)) {
      log.warn(
        "cannot read kube-system/shoot-info: the driver needs RBAC get on configmaps, resourceNames [shoot-info], in kube-system; using local.kyma.dev, set --cluster-domain to choose",
      );
      return { domain: LOCAL_KYMA_DOMAIN, source: "kube-system/shoot-info not readable (403)" };
    }
    throw err;
  }
  const domain = shootInfo.data?.domain;
  if (domain === undefined || domain === "") {
    throw new PlatformProblem(
      "ConfigMap kube-system/shoot-info has no data.domain, so the cluster's public domain is unknown",
      "set --cluster-domain=<the domain the kyma-gateway serves, without the leading *.>",
    );
  }
  return { domain, source: "kube-system/shoot-info data.domain" };
}
