// Seeded requests for the request-policy fuzz: well-formed sandboxes with one to three fields drawn
// from what a tenant could try — annotation and label keys and values across the domains the
// policy knows and ones it does not, names, quantities, environment strings, placement. Most stay
// decodable, so the driver's policy (not the wire decoder) answers them.
import { create, type JsonObject } from "@bufbuild/protobuf";
import { DriverSandboxSchema, type DriverSandbox } from "../../src/gen/compute_driver_pb";
import { SeededRandom } from "../chaos/fuzz-requests";
import { TEST_IMAGE } from "../support/requests";

/** Domains a key prefix is built from: ones the policy refuses, their subdomains, and tenants' own. */
const DOMAINS = [
  "sidecar.istio.io", "traffic.sidecar.istio.io", "istio.io", "k8s.v1.cni.cncf.io", "cni.cncf.io",
  "container.apparmor.security.beta.kubernetes.io", "seccomp.security.alpha.kubernetes.io", "kubernetes.io",
  "app.kubernetes.io", "node-role.kubernetes.io", "k8s.io", "x-k8s.io", "agents.x-k8s.io", "openshift.io",
  "security.openshift.io", "cluster-autoscaler.kubernetes.io", "kubectl.kubernetes.io", "linkerd.io",
  "config.linkerd.io", "kuma.io", "policy.cilium.io", "vault.hashicorp.com", "iam.gke.io",
  "eks.amazonaws.com", "kyma-project.io", "openshell.ai", "openshell.io", "example.com", "team.acme.io",
  "istio.io.example.com", "notistio.io", "kubernetes.io.evil.com", "k8s.iox", "a", "openshell.aix",
];
const NAMES = ["inject", "userVolume", "userVolumeMount", "proxyImage", "networks", "agent", "pod", "required-scc",
  "safe-to-evict", "name", "instance", "component", "sandbox-id", "managed-by", "cost-center", "team", "x", "A_b.c-9"];
const UNPREFIXED = ["io.kubernetes.cri-o.Devices", "io.katacontainers.config.hypervisor.kernel_params", "run.oci.keep_original_groups",
  "io.containerd.x", "io.podman.annotations.x", "team", "note", "io.kubernetesx", "run.ocix"];
const QUANTITIES = ["1e400", "1e16", "9e15", "9.3e15", "-1", "-0", "0", "500m", "1.5Gi", "2", "+5", ".5", "5.", "1E3", "1e-400",
  "9223372036854775807", "9223372036854775807m", "1Ei", "8Ei", "7Ei", "abc", "1GB", "1e", "0x10", "Infinity", "NaN", "1_000", " 1", "١"];
const TEXT = ["", "plain", "a\u0000b", "\u0000", "ünïcödé", "\u{1F600}", "\u200b", "line\nbreak", "tab\there", "x".repeat(300),
  "${jndi:ldap://x}", "\uFFFD", "'\"`", "a=b", "true"];
const RESOURCE_NAMES = ["cpu", "memory", "ephemeral-storage", "hugepages-2Mi", "example.com/fpga", "nvidia.com/gpu", "nvidia.com/mig-1g.5gb",
  "nvidia.com/gpu.shared", "amd.com/gpu", "gpu.intel.com/i915", "kubernetes.io/x", "gpu"];

export interface PolicyFuzzCase {
  /** The mutations applied, for the report. */
  kinds: string[];
  sandbox: DriverSandbox;
}

export class PolicyFuzzGenerator {
  readonly #rng: SeededRandom;
  #count = 0;

  constructor(seed: number, private readonly prefix: string) {
    this.#rng = new SeededRandom(seed);
  }

  #key(): string {
    const r = this.#rng.int(10);
    if (r < 6) return `${this.#rng.pick(DOMAINS)}/${this.#rng.pick(NAMES)}`;
    if (r < 8) return this.#rng.pick(UNPREFIXED);
    return this.#rng.pick(["", "/x", "a/b/c", "-x", "x-", `${"d".repeat(64)}`, `example.com/${"n".repeat(64)}`, "UPPER.example.com/x", "ex ample.com/x"]);
  }

  #labelValue(): string {
    return this.#rng.pick(["", "v", "ml", "a".repeat(63), "a".repeat(64), "-x", "x y", "v1.2_3", this.#rng.pick(TEXT)]);
  }

  #dnsName(): string {
    return this.#rng.pick(["ok", "a--b", "b--c", "x".repeat(30), "x".repeat(64), "UPPER", "-x", "x-", "a.b", "a_b", "ü", "", "1abc", "abc1"]);
  }

  #quantity(): string {
    return this.#rng.pick(QUANTITIES);
  }

  #envName(): string {
    return this.#rng.pick(["GOOD", "_x", "A1", "1A", "A-B", "A=B", "", "OPENSHELL_ENDPOINT", "PATH", "ü"]);
  }

  next(): PolicyFuzzCase {
    this.#count++;
    const suffix = `${this.#count.toString(36)}${this.#rng.int(1e6).toString(36)}`;
    const id = `${this.prefix}-${suffix}`;
    const annotations: Record<string, string> = {};
    const labels: Record<string, string> = {};
    const specEnv: Record<string, string> = {};
    const templateEnv: Record<string, string> = {};
    const resources: Record<string, string> = {};
    const platform: JsonObject = {};
    const driver: JsonObject = {};
    let name = `n${suffix}`;
    let workspace = "tpf";
    const command: string[] = [];
    const kinds: string[] = [];
    const mutations = 2 + this.#rng.int(2);
    for (let m = 0; m < mutations; m++) {
      const kind = this.#rng.pick(["annotation", "label", "name", "quantity", "env", "placement", "gpu", "command"] as const);
      kinds.push(kind);
      switch (kind) {
        case "annotation":
          annotations[this.#key()] = this.#rng.pick(TEXT);
          break;
        case "label":
          labels[this.#key()] = this.#labelValue();
          break;
        case "name": {
          // A valid pick gets the case's suffix, so two accepted cases never share a CR name.
          const pick = this.#dnsName();
          const unique = pick === "" ? "" : `${pick}${suffix}`;
          if (this.#rng.next() < 0.5) name = unique;
          else workspace = unique;
          break;
        }
        case "quantity": {
          const where = this.#rng.int(3);
          if (where === 0) resources[this.#rng.pick(["cpuLimit", "cpuRequest", "memoryLimit", "memoryRequest"])] = this.#quantity();
          else if (where === 1) platform.resources_raw = { limits: { [this.#rng.pick(RESOURCE_NAMES)]: this.#rng.next() < 0.3 ? this.#rng.next() * 10 ** this.#rng.int(400) : this.#quantity() } };
          else driver.containers = { agent: { resources: { limits: { [this.#rng.pick(RESOURCE_NAMES)]: this.#quantity() } } } };
          break;
        }
        case "env":
          (this.#rng.next() < 0.5 ? specEnv : templateEnv)[this.#envName()] = this.#rng.pick(TEXT);
          break;
        case "placement":
          this.#placement(platform, driver);
          break;
        case "gpu":
          platform.resources_raw = { limits: { [this.#rng.pick(RESOURCE_NAMES.filter((r) => r.includes("gpu") || r.includes("i915")))]: 1 + this.#rng.int(2) } };
          break;
        case "command":
          command.push(this.#rng.pick(TEXT));
          break;
      }
    }
    if (Object.keys(annotations).length > 0) platform.annotations = annotations;
    const sandbox = create(DriverSandboxSchema, {
      id,
      name,
      workspace,
      spec: {
        environment: specEnv,
        command,
        template: {
          image: TEST_IMAGE,
          labels,
          environment: templateEnv,
          resources,
          ...(Object.keys(platform).length > 0 ? { platformConfig: platform } : {}),
          ...(Object.keys(driver).length > 0 ? { driverConfig: driver } : {}),
        },
      },
    });
    return { kinds, sandbox };
  }

  #placement(platform: JsonObject, driver: JsonObject): void {
    const target = this.#rng.next() < 0.5 ? platform : ((driver.pod ??= {}) as JsonObject);
    switch (this.#rng.int(5)) {
      case 0:
        target.runtime_class_name = this.#rng.pick(["runc", "gvisor", "kata", "", "Bad_Name"]);
        break;
      case 1:
        driver.pod = { ...(driver.pod as JsonObject | undefined), priority_class_name: this.#rng.pick(["system-node-critical", "low", ""]) };
        break;
      case 2:
        target.tolerations = [
          this.#rng.pick<JsonObject>([
            { operator: "Exists" },
            { key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" },
            { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute" },
            { key: "dedicated", operator: "Equal", value: "x", effect: "NoExecute" },
            { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" },
            { key: "dedicated", operator: "Equal", value: "bad value", effect: "NoSchedule" },
          ]),
        ];
        break;
      case 3:
        target.node_selector = { [this.#rng.pick(["kubernetes.io/hostname", "node-role.kubernetes.io/master", "topology.kubernetes.io/zone", "pool", "Bad Key"])]: this.#labelValue() };
        break;
      default:
        platform.host_users = this.#rng.next() < 0.5;
    }
  }
}
