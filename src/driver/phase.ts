// The phase the gateway would derive from a snapshot (its `derive_phase`), used only to label
// the sandboxes-by-phase gauge so operators see the same words as OpenShell users.
import type { DriverSandbox } from "../gen/compute_driver_pb";

const TRANSIENT_READY_REASONS = new Set(
  ["ReconcilerError", "DependenciesNotReady", "SupervisorNotConnected", "Starting", "ContainerStarting", "ContainerCreated", "HealthCheckStarting", "InspectFailed"].map(
    (r) => r.toLowerCase(),
  ),
);

export type SandboxPhase = "Unknown" | "Deleting" | "Stopped" | "Ready" | "Error" | "Provisioning";

export function derivePhase(sandbox: DriverSandbox): SandboxPhase {
  const status = sandbox.status;
  if (!status) return "Unknown";
  if (status.deleting) return "Deleting";
  if (status.conditions.some((c) => c.type.toLowerCase() === "suspended" && c.status === "True")) return "Stopped";
  const ready = status.conditions.find((c) => c.type === "Ready");
  if (!ready) return "Provisioning";
  if (ready.status === "True") return "Ready";
  if (ready.status === "False" && !TRANSIENT_READY_REASONS.has(ready.reason.toLowerCase())) return "Error";
  return "Provisioning";
}

export function countByPhase(sandboxes: DriverSandbox[]): Record<SandboxPhase, number> {
  const counts: Record<SandboxPhase, number> = { Unknown: 0, Deleting: 0, Stopped: 0, Ready: 0, Error: 0, Provisioning: 0 };
  for (const s of sandboxes) counts[derivePhase(s)]++;
  return counts;
}
