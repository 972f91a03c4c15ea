import { describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { toConnectError } from "../../src/contract/errors";
import { DriverError } from "../../src/driver/errors";
import { KubeApiError } from "../../src/kube/errors";
import { SandboxRequestError } from "../../src/sandbox/errors";

function kubeError(status: number, reason: string): KubeApiError {
  return new KubeApiError({ status, reason, verb: "create", resource: "sandboxes.agents.x-k8s.io", namespace: "ns", name: "ws--a", detail: "boom" });
}

describe("errors become gRPC statuses", () => {
  test.each([
    [404, "NotFound", Code.NotFound],
    [409, "AlreadyExists", Code.AlreadyExists],
    [409, "Conflict", Code.Aborted],
    [403, "Forbidden", Code.FailedPrecondition],
    [401, "Unauthorized", Code.Unavailable],
    [400, "BadRequest", Code.InvalidArgument],
    [422, "Invalid", Code.InvalidArgument],
    [429, "TooManyRequests", Code.Unavailable],
    [500, "InternalError", Code.Unavailable],
    [503, "ServiceUnavailable", Code.Unavailable],
    [0, "ConnectionRefused", Code.Unavailable],
    [0, "Timeout", Code.Unavailable],
  ])("Kubernetes %i %s → gRPC code %i, and the message names the object and namespace", (status, reason, code) => {
    const err = toConnectError(kubeError(status, reason));
    expect(err.code).toBe(code);
    expect(err.rawMessage).toContain("ws--a");
    expect(err.rawMessage).toContain("ns");
  });

  const DRIVER = "system:serviceaccount:openshell-system:openshell-driver";
  function forbidden(message: string, apiServerReady?: boolean): KubeApiError {
    return new KubeApiError({
      status: 403,
      reason: "Forbidden",
      verb: "create",
      resource: "sandboxes.agents.x-k8s.io",
      namespace: "openshell-system",
      name: "ws--a",
      detail: message,
      ...(apiServerReady === undefined ? {} : { apiServerReady }),
    });
  }

  test("a permission the driver's own ServiceAccount lacks is FAILED_PRECONDITION naming the identity, the rule and the RBAC manifest, never PERMISSION_DENIED", () => {
    const err = toConnectError(
      forbidden(
        `sandboxes.agents.x-k8s.io "ws--a" is forbidden: User "${DRIVER}" cannot create resource "sandboxes" in API group "agents.x-k8s.io" in the namespace "openshell-system"`,
        true,
      ),
    );
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toStartWith(
      `the driver's identity "${DRIVER}" may not create sandboxes.agents.x-k8s.io in namespace "openshell-system": grant it by applying deploy/rbac.yaml`,
    );
  });

  test("a cluster-scoped denial says so, and a core-group resource has no group suffix", () => {
    const err = toConnectError(forbidden(`nodes is forbidden: User "${DRIVER}" cannot list resource "nodes" in API group "" at the cluster scope`, true));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toStartWith(`the driver's identity "${DRIVER}" may not list nodes cluster-wide:`);
  });

  test("a 403 while the API server is not ready yet (RBAC still loading at start) is UNAVAILABLE, so the gateway retries", () => {
    const err = toConnectError(
      forbidden(`pods is forbidden: User "${DRIVER}" cannot list resource "pods" in API group "" in the namespace "openshell-system"`, false),
    );
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toContain("not ready yet");
  });

  test("a 403 for system:anonymous (credentials not recognised yet) is UNAVAILABLE", () => {
    const err = toConnectError(
      forbidden(`sandboxes.agents.x-k8s.io is forbidden: User "system:anonymous" cannot list resource "sandboxes" in API group "agents.x-k8s.io" at the cluster scope`, true),
    );
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toContain("system:anonymous");
  });

  test("a 403 from admission or a quota is the cluster refusing the object: FAILED_PRECONDITION with the server's message", () => {
    const err = toConnectError(forbidden(`pods "ws--a" is forbidden: exceeded quota: compute, requested: nvidia.com/gpu=1, used: nvidia.com/gpu=2, limited: nvidia.com/gpu=2`, true));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toContain("exceeded quota");
  });

  test("a response body that is not JSON is UNAVAILABLE and says what was expected", () => {
    const err = toConnectError(
      new KubeApiError({ status: 200, reason: "InvalidResponse", verb: "get", resource: "namespaces", name: "ns", detail: "expected a JSON Kubernetes object from https://k, got text/html (12 bytes) that does not parse as JSON" }),
    );
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toContain("expected a JSON Kubernetes object");
  });

  test("request errors keep their code and field-first message", () => {
    const err = toConnectError(new SandboxRequestError("ResourceExhausted", "sandbox.spec.resource_requirements.gpu.count", "3 GPUs requested"));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toStartWith("sandbox.spec.resource_requirements.gpu.count");
  });

  test.each([
    ["NotFound", Code.NotFound],
    ["AlreadyExists", Code.AlreadyExists],
    ["DeadlineExceeded", Code.DeadlineExceeded],
    ["Canceled", Code.Canceled],
  ] as const)("a driver %s error becomes gRPC code %i with its message unchanged", (name, code) => {
    const err = toConnectError(new DriverError(name, "sandbox abc not found"));
    expect(err.code).toBe(code);
    expect(err.rawMessage).toBe("sandbox abc not found");
  });

  test("ConnectErrors pass through and anything else is INTERNAL", () => {
    const original = new ConnectError("x", Code.NotFound);
    expect(toConnectError(original)).toBe(original);
    expect(toConnectError(new Error("surprise")).code).toBe(Code.Internal);
  });
});
