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
    [403, "Forbidden", Code.PermissionDenied],
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
