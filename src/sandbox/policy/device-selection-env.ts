// Environment variables that pick devices on the node, read by the container runtime's hooks, not
// by the workload. The NVIDIA container runtime exposes every GPU named in NVIDIA_VISIBLE_DEVICES
// (`all` included) to a container that asked the scheduler for none, outside --gpu-support and the
// capacity check, GPUs held by other tenants' pods too; AMD's container runtime reads
// AMD_VISIBLE_DEVICES the same way. For a sandbox that does ask for a GPU, the device plugin sets
// them to the devices it allocated.

import type { DriverSandbox } from "../../gen/compute_driver_pb";
import { keyPath } from "../errors";
import { policyRefusal } from "./refusal";
import { requestEnvironments } from "./text-values";

const DEVICE_SELECTION_ENV = ["NVIDIA_VISIBLE_DEVICES", "NVIDIA_MIG_CONFIG_DEVICES", "NVIDIA_MIG_MONITOR_DEVICES", "AMD_VISIBLE_DEVICES"];

export function checkDeviceSelectionEnv(sandbox: DriverSandbox): void {
  for (const [path, env] of requestEnvironments(sandbox)) {
    for (const name of DEVICE_SELECTION_ENV) {
      if (!(name in env)) continue;
      throw policyRefusal({
        field: keyPath(path, name),
        what: `environment variable ${name}`,
        why: "the container runtime exposes the node's devices it names, whatever the sandbox asked the scheduler for (a GPU is requested through resources, behind --gpu-support)",
      });
    }
  }
}
