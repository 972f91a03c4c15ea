// The bench's sandboxes on the local control plane: one claim they all mount on /sandbox (so the
// driver renders no workspace claim and the volume controllers stay out of the figures), a
// template CR taken from a CreateSandbox the driver made, copies of it POSTed raw in bulk, and a
// cleanup that deletes everything by the bench's gateway label and waits until it is gone.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isKubeApiError, KubeClient, loadKubeAccess } from "../src/kube";
import { LABEL_SANDBOX_WORKSPACE } from "../src/sandbox/labels";
import { kubectl } from "../test/support/cluster";
import { sandboxRequest, TEST_IMAGE } from "../test/support/requests";

export const NAMESPACE = "openshell-system";
const GATEWAY_LABEL = "openshell.ai/gateway-id";
const SANDBOXES = `/apis/agents.x-k8s.io/v1beta1/namespaces/${NAMESPACE}/sandboxes`;
const PODS = `/api/v1/namespaces/${NAMESPACE}/pods`;
/** One file per bench run under way: its gateway id, holding its pid (markRunning). */
const RUNS_DIR = "/tmp/osdrv-bench-runs";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but is not ours to signal.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function kubeClientFor(kubeconfigPath: string): Promise<KubeClient> {
  return new KubeClient(await loadKubeAccess({ kubeconfigPath }), { timeoutMs: 120_000 });
}

/**
 * The call again while the API server cannot answer it yet: a dropped keep-alive connection
 * (status 0), 429, or a 5xx such as a delete-collection over its 60 s budget (it goes on where it
 * stopped) or a watch cache behind after a restart. `accept409` makes a repeated create of our own
 * name a success.
 */
async function again<T>(call: () => Promise<T>, accept409 = false): Promise<T | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (accept409 && attempt > 1 && isKubeApiError(err, 409)) return undefined;
      const transient = isKubeApiError(err) && (err.status === 0 || err.status === 429 || err.status >= 500);
      if (attempt === 10 || !transient) throw err;
      await Bun.sleep(500 * attempt);
    }
  }
}

export class BenchSandboxes {
  readonly claim: string;
  readonly selector: string;
  #template = "";
  #halted = false;
  #templateId = "";
  #templateName = "";

  /** `driver` is the least-privileged driver identity (the claim is made with the admin kubeconfig). */
  constructor(
    readonly run: string,
    readonly gatewayId: string,
    readonly driver: KubeClient,
  ) {
    this.claim = `${run}-data`;
    this.selector = `${GATEWAY_LABEL}=${gatewayId}`;
  }

  static async open(run: string, gatewayId: string, driverKubeconfig: string): Promise<BenchSandboxes> {
    return new BenchSandboxes(run, gatewayId, await kubeClientFor(driverKubeconfig));
  }

  createClaim(): void {
    kubectl(["apply", "-f", "-"], {
      input: JSON.stringify({
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        // In shared mode a claim is a workspace's only when labelled so (the requests use workspace "ws").
        metadata: { name: this.claim, namespace: NAMESPACE, labels: { [GATEWAY_LABEL]: this.gatewayId, [LABEL_SANDBOX_WORKSPACE]: "ws" } },
        spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
      }),
    });
  }

  /** A CreateSandbox request whose only storage is the bench claim under /sandbox. */
  request(id: string, name: string) {
    return sandboxRequest({
      id,
      name,
      spec: {
        template: {
          image: TEST_IMAGE,
          driverConfig: {
            volumes: [{ name: "bench-data", persistent_volume_claim: { claim_name: this.claim, read_only: false } }],
            containers: { agent: { volume_mounts: [{ name: "bench-data", mount_path: "/sandbox/data", read_only: false }] } },
          },
        },
      },
    });
  }

  /** Keeps the CR the driver wrote for `id` as the body later raw POSTs copy. */
  async takeTemplate(id: string, name: string): Promise<void> {
    const list = await this.driver.request<{ items: any[] }>({
      verb: "list",
      path: SANDBOXES,
      query: { labelSelector: `openshell.ai/sandbox-id=${id}` },
      resource: "sandboxes.agents.x-k8s.io",
    });
    const cr = list.items[0];
    if (!cr) throw new Error(`the driver's CR for ${id} is not in the cluster`);
    const { name: kubeName, namespace, labels, annotations } = cr.metadata;
    this.#template = JSON.stringify({ apiVersion: cr.apiVersion, kind: cr.kind, metadata: { name: kubeName, namespace, labels, annotations }, spec: cr.spec });
    this.#templateId = id;
    this.#templateName = name;
  }

  /** The template CR under another id and name (the id first: it contains the name). */
  body(id: string, name: string): unknown {
    return JSON.parse(this.#template.replaceAll(this.#templateId, id).replaceAll(this.#templateName, name));
  }

  /** The name of the CR `post(id, name)` makes. */
  kubeName(id: string, name: string): string {
    return (this.body(id, name) as { metadata: { name: string } }).metadata.name;
  }

  async post(id: string, name: string, operatingMode?: "Suspended"): Promise<void> {
    if (this.#halted) throw new Error("the bench run is cleaning up; no more sandboxes are made");
    const body = this.body(id, name) as { spec: Record<string, unknown> };
    if (operatingMode) body.spec.operatingMode = operatingMode;
    await again(() => this.driver.request({ verb: "create", path: SANDBOXES, body, resource: "sandboxes.agents.x-k8s.io", namespace: NAMESPACE }), true);
  }

  /** Raw POSTs of `count` copies, `inFlight` at a time, stopped if asked; returns the ids. */
  async postMany(prefix: string, count: number, inFlight = 32, operatingMode?: "Suspended"): Promise<string[]> {
    const ids = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
    let next = 0;
    const worker = async () => {
      while (next < ids.length && !this.#halted) {
        const name = ids[next++]!;
        await this.post(`${name}-id`, name, operatingMode);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    return ids.map((name) => `${name}-id`);
  }

  /**
   * How many the API server's watch cache holds (`resourceVersion=0`, metadata only): callers
   * poll until the count they want, so a cache a moment behind only means one more poll. A
   * consistent list would first wait up to 3 s for the watch cache to reach etcd's revision and,
   * on a loaded machine where it does not, read the whole collection from etcd: minutes each at
   * fleet size, as the runs of 2026-12-07 found.
   */
  async count(kind: "sandboxes" | "pods"): Promise<number> {
    const list = await again(() =>
      this.driver.request<{ items: unknown[] }>({ verb: "list", path: kind === "sandboxes" ? SANDBOXES : PODS, query: { labelSelector: this.selector, resourceVersion: "0" }, resource: kind, metadataOnly: true }),
    );
    // An empty metadata-only list has `items: null` (Go's nil slice). No list at all: unknown.
    return list ? (list.items ?? []).length : -1;
  }

  /** Polls until `kind` reaches `want` or `timeoutMs` passes; returns the last count seen. */
  async waitForCount(kind: "sandboxes" | "pods", want: number, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let seen = await this.count(kind);
    while (seen !== want && Date.now() < deadline) {
      await Bun.sleep(500);
      seen = await this.count(kind);
    }
    return seen;
  }

  /**
   * Deletes every sandbox with the gateway label, 32 at a time (a delete-collection runs one
   * delete after another and outlives its 60 s budget at a thousand), then the claim, and waits
   * until no sandbox or pod is left.
   */
  async cleanUp(timeoutMs: number): Promise<{ sandboxes: number; pods: number }> {
    // Interrupted mid-bulk, POSTs already sent may land after the list: list and delete again.
    this.#halted = true;
    const deadline = Date.now() + timeoutMs;
    let sandboxes: number;
    do {
      const listed = (await again(() =>
        this.driver.request<{ items: { metadata: { name: string } }[] }>({ verb: "list", path: SANDBOXES, query: { labelSelector: this.selector, resourceVersion: "0" }, resource: "sandboxes", metadataOnly: true }),
      ))?.items ?? [];
      await this.#deleteAll(listed.map((cr) => cr.metadata.name));
      sandboxes = await this.waitForCount("sandboxes", 0, Math.min(Math.max(deadline - Date.now(), 0), 60_000 + listed.length * 30));
    } while (sandboxes > 0 && Date.now() < deadline);
    const pods = await this.waitForCount("pods", 0, timeoutMs);
    kubectl(["delete", "pvc", "-n", NAMESPACE, this.claim, "--ignore-not-found", "--timeout=60s"]);
    if (sandboxes === 0) rmSync(join(RUNS_DIR, this.gatewayId), { force: true });
    return { sandboxes, pods };
  }

  /**
   * Marks this run as under way (a file naming its gateway id, holding its pid) until cleanUp has
   * deleted what it made, so a later run can tell a run killed outright (SIGKILL, a lost machine)
   * from one still going.
   */
  markRunning(): void {
    mkdirSync(RUNS_DIR, { recursive: true });
    writeFileSync(join(RUNS_DIR, this.gatewayId), String(process.pid));
  }

  /**
   * Deletes what earlier runs that died without cleaning up left behind: those with a mark whose
   * process is gone. Runs still under way (their process lives) are left alone. Returns how many
   * sandboxes it deleted.
   */
  async sweepLeftovers(): Promise<number> {
    if (!existsSync(RUNS_DIR)) return 0;
    let deleted = 0;
    for (const gateway of readdirSync(RUNS_DIR)) {
      if (gateway === this.gatewayId || alive(Number(readFileSync(join(RUNS_DIR, gateway), "utf8")))) continue;
      const selector = `${GATEWAY_LABEL}=${gateway}`;
      const listed = (await again(() =>
        this.driver.request<{ items: { metadata: { name: string } }[] }>({ verb: "list", path: SANDBOXES, query: { labelSelector: selector, resourceVersion: "0" }, resource: "sandboxes", metadataOnly: true }),
      ))?.items ?? [];
      await this.#deleteAll(listed.map((cr) => cr.metadata.name));
      kubectl(["delete", "pvc", "-n", NAMESPACE, "-l", selector, "--ignore-not-found", "--wait=false"]);
      deleted += listed.length;
      rmSync(join(RUNS_DIR, gateway), { force: true });
    }
    return deleted;
  }

  /** The sandboxes of cleanUp, without the claim: returns what is left once none is, or at `timeoutMs`. */
  async deleteSandboxes(timeoutMs: number): Promise<{ sandboxes: number; pods: number }> {
    const listed = await again(() => this.driver.listAll<{ metadata: { name: string } }>({ path: SANDBOXES, query: { labelSelector: this.selector }, resource: "sandboxes" }, 500));
    await this.#deleteAll(listed!.map((cr) => cr.metadata.name));
    const sandboxes = await this.waitForCount("sandboxes", 0, timeoutMs);
    const pods = await this.waitForCount("pods", 0, timeoutMs);
    return { sandboxes, pods };
  }

  async #deleteAll(names: string[]): Promise<void> {
    const worker = async () => {
      for (let name = names.pop(); name !== undefined; name = names.pop()) {
        const path = `${SANDBOXES}/${name}`;
        await again(() => this.driver.request({ verb: "delete", path, resource: "sandboxes.agents.x-k8s.io", namespace: NAMESPACE, name })).catch((err) => {
          if (!isKubeApiError(err, 404)) throw err;
        });
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
  }

  /** One LIST of the bench's sandboxes as the driver identity: unpaged, from the watch cache, or paged. */
  async timeList(mode: "unpaged" | "watch-cache" | "paged-500"): Promise<{ ms: number; items: number }> {
    const started = performance.now();
    let items: number;
    if (mode === "paged-500") {
      items = (await this.driver.listAll<unknown>({ path: SANDBOXES, query: { labelSelector: this.selector }, resource: "sandboxes" }, 500)).length;
    } else {
      const query = { labelSelector: this.selector, ...(mode === "watch-cache" ? { resourceVersion: "0" } : {}) };
      items = (await this.driver.request<{ items: unknown[] }>({ verb: "list", path: SANDBOXES, query, resource: "sandboxes" })).items.length;
    }
    return { ms: performance.now() - started, items };
  }
}
