// Keeps a WatchSandboxes stream open in the background and records what arrives, so a test can
// wait for an event the way the gateway would see it.
import type { WatchSandboxesEvent } from "../../src/gen/compute_driver_pb";
import { connectClient } from "./clients";
import { eventually } from "./cluster";

export class WatchRecorder {
  readonly events: WatchSandboxesEvent[] = [];
  readonly #abort = new AbortController();
  readonly done: Promise<string>;

  constructor(socket: string) {
    const client = connectClient(socket);
    this.done = (async () => {
      try {
        for await (const ev of client.watchSandboxes({}, { signal: this.#abort.signal })) this.events.push(ev);
        return "ended";
      } catch (err) {
        return this.#abort.signal.aborted ? "cancelled" : `failed: ${(err as Error).message}`;
      }
    })();
  }

  close(): Promise<string> {
    this.#abort.abort();
    return this.done;
  }

  snapshotsOf(sandboxId: string) {
    return this.events.flatMap((e) => (e.payload.case === "sandbox" && e.payload.value.sandbox?.id === sandboxId ? [e.payload.value.sandbox] : []));
  }

  deletedIds(): string[] {
    return this.events.flatMap((e) => (e.payload.case === "deleted" ? [e.payload.value.sandboxId] : []));
  }

  platformEventsOf(sandboxId: string) {
    return this.events.flatMap((e) => (e.payload.case === "platformEvent" && e.payload.value.sandboxId === sandboxId ? [e.payload.value.event!] : []));
  }

  /** Waits for a snapshot of `sandboxId` that satisfies `match`. */
  waitForSnapshot(what: string, sandboxId: string, match: (s: NonNullable<ReturnType<WatchRecorder["snapshotsOf"]>[number]>) => boolean) {
    return eventually(what, () => this.snapshotsOf(sandboxId).find((s) => s && match(s)));
  }

  waitForDeleted(sandboxId: string) {
    return eventually(`deleted event for ${sandboxId}`, () => (this.deletedIds().includes(sandboxId) ? true : undefined));
  }
}

export function condition(sandbox: { status?: { conditions: { type: string; status: string; reason: string }[] } }, type: string) {
  return sandbox.status?.conditions.find((c) => c.type === type);
}
