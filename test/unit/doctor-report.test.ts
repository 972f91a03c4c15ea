// What `doctor` prints and how it exits, and which permissions it asks about for which flags.
import { describe, expect, test } from "bun:test";
import { loadAllYaml } from "@kubernetes/client-node";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { takeOutputFlag } from "../../src/cli/doctor";
import { resolveConfig } from "../../src/config";
import type { CheckResult } from "../../src/doctor/checks";
import { exitCodeOf, formatJson, formatText } from "../../src/doctor/report";
import { rbacRules, ruleYaml } from "../../src/doctor/rbac-rules";
import { socketCheck } from "../../src/doctor/socket-check";
import { REPO } from "../support/paths";
import { expectGolden } from "./golden";

const passed: CheckResult = { name: "credentials", status: "PASS", detail: "kubeconfig ~/.kube/config; API server v1.36.4 answers /version" };
const warned: CheckResult = { name: "gpu nodes", status: "WARN", detail: "none of 3 nodes has allocatable nvidia.com/gpu" };
const failed: CheckResult = {
  name: "pod security",
  status: "FAIL",
  detail: 'sandbox pods need privileged, but namespace "team" has pod-security.kubernetes.io/enforce=baseline',
  fix: "kubectl label ns team pod-security.kubernetes.io/enforce=privileged --overwrite",
};

describe("doctor report", () => {
  test("text output is one aligned line per check, a fix line under a failure, and a count, without colour off a terminal", () => {
    expect(formatText([passed, failed, warned], { colour: false })).toBe(
      [
        "PASS  credentials   kubeconfig ~/.kube/config; API server v1.36.4 answers /version",
        'FAIL  pod security  sandbox pods need privileged, but namespace "team" has pod-security.kubernetes.io/enforce=baseline',
        "                    fix: kubectl label ns team pod-security.kubernetes.io/enforce=privileged --overwrite",
        "WARN  gpu nodes     none of 3 nodes has allocatable nvidia.com/gpu",
        "",
        "1 passed, 1 failed, 1 warnings",
        "",
      ].join("\n"),
    );
  });

  test("on a terminal the status words are coloured and the rest of the line is unchanged", () => {
    const line = formatText([failed], { colour: true }).split("\n")[0]!;
    expect(line).toBe(`\x1b[31mFAIL\x1b[0m  pod security  ${failed.detail}`);
  });

  test("json output is one document with ok and every check, fix only where there is one", () => {
    expect(JSON.parse(formatJson([passed, failed]))).toEqual({ ok: false, checks: [passed, failed] });
    expect(JSON.parse(formatJson([passed, warned]))).toEqual({ ok: true, checks: [passed, warned] });
  });

  test("a failed check exits 1; warnings alone exit 0", () => {
    expect(exitCodeOf([passed, warned])).toBe(0);
    expect(exitCodeOf([passed, warned, failed])).toBe(1);
  });
});

describe("doctor --output", () => {
  test("--output json and --output=json are taken out, leaving serve's flags", () => {
    expect(takeOutputFlag(["--namespace", "a", "--output", "json"])).toEqual({ output: "json", rest: ["--namespace", "a"] });
    expect(takeOutputFlag(["--output=json", "--platform=kubernetes"])).toEqual({ output: "json", rest: ["--platform=kubernetes"] });
    expect(takeOutputFlag([])).toEqual({ output: "text", rest: [] });
  });

  test("an output format that is neither text nor json is a flag error naming --output", () => {
    expect(() => takeOutputFlag(["--output=yaml"])).toThrow('invalid --output: "yaml" is not one of "text", "json"');
    expect(() => takeOutputFlag(["--output"])).toThrow("invalid --output: needs a value");
  });
});

describe("the permissions doctor checks", () => {
  test("shared mode on Kubernetes asks for its Role's rules, the cluster reads, and the namespace read as optional", () => {
    expectGolden("doctor-rbac-shared-kubernetes", rbacRules({ config: resolveConfig({}, {}, false), platform: "kubernetes" }));
  });

  test("the GPU capacity reads are asked only while GPU sandboxes are accepted and their capacity is checked", () => {
    const resources = (flags: Record<string, string>) => rbacRules({ config: resolveConfig(flags, {}, false), platform: "kubernetes" }).map((r) => r.resource);
    expect(resources({})).toContain("nodes");
    expect(resources({ "gpu-capacity-check": "off" })).not.toContain("nodes");
    expect(resources({ "gpu-support": "false" })).not.toContain("nodes");
  });

  test("OpenShift with routes and the OAuth proxy adds the SCC, review, route, Secret and ServiceAccount-patch rules", () => {
    const config = resolveConfig({ expose: "route", "openshift-oauth-proxy": "true", "route-domain": "apps.example.com", "service-account-name": "openshell-sandbox" }, {}, false);
    expectGolden("doctor-rbac-openshift-route", rbacRules({ config, platform: "openshift" }).filter((r) => r.manifest.startsWith("deploy/rbac-openshift.yaml")));
  });

  test("managed and operator modes ask cluster-wide but for the pod feature check's dry run, and for Secret sources only when Secrets are copied", () => {
    const managed = rbacRules({ config: resolveConfig({ "workspace-mode": "managed" }, {}, false), platform: "kubernetes" });
    expect(managed.filter((r) => r.namespace !== undefined).map((r) => `${r.verbs.join(",")} ${r.resource} ${r.namespace}`)).toEqual(["create podtemplates openshell-system"]);
    const withSecrets = rbacRules({ config: resolveConfig({ "workspace-mode": "operator", "client-tls-secret-name": "tls" }, {}, false), platform: "kubernetes" });
    expect(withSecrets.find((r) => r.resource === "secrets")).toMatchObject({ verbs: ["get"], namespace: "openshell-system", manifest: "deploy/rbac-operator.yaml (Role openshell-driver-operator-secret-sources)" });
  });

  test("every rule doctor asks about is granted by the manifest object its fix names, for every mode and platform", () => {
    interface Rule {
      apiGroups?: string[];
      resources?: string[];
      resourceNames?: string[];
      verbs: string[];
    }
    const configs = [
      { flags: {}, platform: "kubernetes" as const },
      { flags: { expose: "route", "openshift-oauth-proxy": "true", "route-domain": "apps.example.com", "service-account-name": "openshell-sandbox" }, platform: "openshift" as const },
      { flags: { expose: "virtualservice" }, platform: "kyma" as const },
      { flags: { expose: "apirule", "istio-inject": "true" }, platform: "kyma" as const },
      { flags: { "workspace-mode": "managed", "managed-ssh-ingress-enabled": "true", "managed-ssh-gateway-namespace": "gw", "managed-ssh-gateway-pod-selector": "app=gw", "image-pull-secrets": "pull" }, platform: "kubernetes" as const },
      { flags: { "workspace-mode": "operator", "client-tls-secret-name": "tls" }, platform: "kubernetes" as const },
    ];
    const ungranted: string[] = [];
    for (const { flags, platform } of configs) {
      for (const rule of rbacRules({ config: resolveConfig(flags, {}, false), platform })) {
        const [, file, kind, name] = /^(\S+) \((\w+) (\S+)\)$/.exec(rule.manifest)!;
        const documents = loadAllYaml(readFileSync(join(REPO, file!), "utf8")) as { kind: string; metadata: { name: string }; rules?: Rule[] }[];
        const granted = documents.find((d) => d.kind === kind && d.metadata.name === name)?.rules ?? [];
        for (const verb of rule.verbs) {
          const grants = granted.some(
            (r) =>
              r.apiGroups?.includes(rule.group) &&
              r.resources?.includes(rule.resource) &&
              r.verbs.includes(verb) &&
              (r.resourceNames === undefined || (rule.name !== undefined && r.resourceNames.includes(rule.name))),
          );
          if (!grants) ungranted.push(`${verb} ${rule.resource} (${rule.manifest})`);
        }
      }
    }
    expect(ungranted).toEqual([]);
  });

  test("a missing rule is written as the manifest spells it", () => {
    const [sandboxes] = rbacRules({ config: resolveConfig({}, {}, false), platform: "kubernetes" });
    expect(ruleYaml(sandboxes!, ["delete"])).toBe('{apiGroups: ["agents.x-k8s.io"], resources: [sandboxes], verbs: [delete]}');
  });
});

describe("the socket directory check", () => {
  const uid = process.geteuid?.() ?? 0;

  test("a directory that does not exist yet under a writable one passes: serve creates it 0700", () => {
    const socket = join(mkdtempSync(join(tmpdir(), "doctor-sock-")), "run", "driver", "driver.sock");
    expect(socketCheck(socket, uid)).toMatchObject({ status: "PASS", detail: expect.stringContaining("serve will create it 0700") });
  });

  test("a group-writable directory fails with serve's own refusal, and nothing is changed", () => {
    const dir = mkdtempSync(join(tmpdir(), "doctor-sock-"));
    chmodSync(dir, 0o770);
    expect(socketCheck(join(dir, "driver.sock"), uid)).toMatchObject({
      status: "FAIL",
      detail: `socket directory ${dir} is writable by group or others (mode 770); use a private directory`,
      fix: expect.stringContaining("--socket="),
    });
  });

  test("a directory owned by another uid fails, naming both uids", () => {
    const dir = mkdtempSync(join(tmpdir(), "doctor-sock-"));
    expect(socketCheck(join(dir, "driver.sock"), uid + 1).detail).toBe(`socket directory ${dir} is owned by uid ${uid}, not by this process (uid ${uid + 1})`);
  });

  test("a file that is not a socket at the socket path fails: serve would refuse to replace it", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "doctor-sock-")), "private");
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, "driver.sock"), "");
    expect(socketCheck(join(dir, "driver.sock"), uid)).toMatchObject({ status: "FAIL", detail: expect.stringContaining("is not an owned Unix socket") });
  });
});
