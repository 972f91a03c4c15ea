// Which Sandbox API version to speak: v1beta1 when served, else v1alpha1, unless forced.
import { isKubeApiError, type KubeClient } from "../kube";
import type { SandboxApiVersion } from "../sandbox/settings";

export class ApiVersionError extends Error {}

async function isServed(client: KubeClient, version: SandboxApiVersion, namespace: string): Promise<boolean> {
  try {
    await client.request({
      verb: "list",
      path: `/apis/agents.x-k8s.io/${version}/namespaces/${namespace}/sandboxes`,
      query: { limit: 1 },
      resource: "sandboxes.agents.x-k8s.io",
      namespace,
    });
    return true;
  } catch (err) {
    if (isKubeApiError(err, 404)) return false;
    throw err;
  }
}

export async function detectSandboxApiVersion(
  client: KubeClient,
  namespace: string,
  choice: "auto" | SandboxApiVersion,
): Promise<SandboxApiVersion> {
  const candidates: SandboxApiVersion[] = choice === "auto" ? ["v1beta1", "v1alpha1"] : [choice];
  for (const version of candidates) {
    if (await isServed(client, version, namespace)) return version;
  }
  throw new ApiVersionError(
    `the cluster serves no Sandbox API version the driver can use (tried agents.x-k8s.io/${candidates.join(", ")}); ` +
      "install the agent-sandbox CRD and controller",
  );
}
