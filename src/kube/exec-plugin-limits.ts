// Exec credential plugins under the same rules as every other Kubernetes call: a deadline, and an
// end when the driver stops. client-node runs them; this only replaces how it spawns them.

import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import type { KubeConfig } from "@kubernetes/client-node";

export interface PluginLimits {
  timeoutMs: number;
  signal?: AbortSignal;
}

type SpawnFn = (command: string, args?: readonly string[], options?: SpawnOptions) => ChildProcess;

/**
 * client-node's exec authenticator spawns the plugin with no deadline and never kills it. Give it
 * a spawn that does: the plugin runs in its own process group (a shell script's children go too),
 * which is killed at the deadline or on stop; the error names why, and the authenticator rejects.
 */
export function limitExecPlugins(where: string, kc: KubeConfig, limits: PluginLimits): void {
  const authenticators = (kc as unknown as { authenticators?: Array<{ execFn?: SpawnFn }> }).authenticators ?? [];
  const execAuth = authenticators.find((a) => typeof a.execFn === "function");
  if (!execAuth) throw new Error(`${where}: this client-node version runs exec plugins in a way that cannot be given a deadline`);
  execAuth.execFn = (command, args, options) => {
    const child = spawn(command, args ?? [], { ...options, detached: true });
    const kill = (why: string) => {
      child.emit("error", new Error(`${command} ${why}`));
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => kill(`did not finish within ${limits.timeoutMs} ms and was killed`), limits.timeoutMs);
    const onStop = () => kill("was killed: the driver is stopping");
    if (limits.signal?.aborted) setTimeout(onStop, 0);
    else limits.signal?.addEventListener("abort", onStop, { once: true });
    child.once("close", () => {
      clearTimeout(timer);
      limits.signal?.removeEventListener("abort", onStop);
    });
    return child;
  };
}
