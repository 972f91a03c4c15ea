// One valid request per ComputeDriver RPC and the status each must answer with, shared by every
// client's contract test. Ids refer to nothing, so mutations fail cleanly with NOT_FOUND.
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { ComputeDriver } from "../../src/gen/compute_driver_pb";
import { sandboxRequest, uniqueName } from "./requests";

export function requestFor(method: string): MessageShape<DescMessage> {
  const m = ComputeDriver.methods.find((x) => x.name === method)!;
  const init: Record<string, unknown> = {
    GetSandbox: { sandboxId: "no-such-sandbox" },
    StopSandbox: { sandboxId: "no-such-sandbox" },
    StartSandbox: { sandboxId: "no-such-sandbox" },
    DeleteSandbox: { sandboxId: "no-such-sandbox" },
    ValidateSandboxCreate: { sandbox: sandboxRequest(uniqueName("val")) },
    CreateSandbox: { sandbox: sandboxRequest({ ...uniqueName("bad"), name: "Not_A_DNS_Label" }) },
    EnsureWorkspace: { workspace: "team-a" },
    DeleteWorkspace: { workspace: "team-a" },
  };
  return create(m.input, (init[method] ?? {}) as Record<string, never>) as MessageShape<DescMessage>;
}

/** What each RPC must answer for requestFor(method); the streaming RPC reads one event, then cancels. */
export const EXPECTED_CODE: Record<string, string> = {
  GetCapabilities: "OK",
  GetGatewayListenerRequirements: "OK",
  ValidateSandboxCreate: "OK",
  GetSandbox: "NOT_FOUND",
  ListSandboxes: "OK",
  CreateSandbox: "INVALID_ARGUMENT",
  StopSandbox: "NOT_FOUND",
  StartSandbox: "NOT_FOUND",
  DeleteSandbox: "OK",
  EnsureWorkspace: "OK",
  DeleteWorkspace: "OK",
  WatchSandboxes: "OK",
};
