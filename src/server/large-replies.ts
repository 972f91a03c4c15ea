// Calls whose reply grows with the number of sandboxes (a ListSandboxes of 10,000 is ~5 MB) are let
// through a few at a time. Each such reply exists two or three times over until it has left the
// socket (the message, its gRPC envelope, the HTTP/2 send queue), and a gateway firing 64 of them at
// once would otherwise hold all 64 in memory together: ~1 GB at 10,000 sandboxes. One reply is
// written by one CPU anyway, so waiting for a slot costs no throughput.
import type { EventEmitter } from "node:events";

export class LargeReplies {
  readonly #slots: number;
  readonly #maxHoldMs: number;
  #inUse = 0;
  readonly #waiting: (() => void)[] = [];

  /**
   * `slots` replies are written at once. A reply still unfinished after `maxHoldMs` (a reader that
   * stopped reading) gives its slot back, so one stuck caller cannot hold up every other List.
   */
  constructor(slots: number, maxHoldMs: number) {
    this.#slots = slots;
    this.#maxHoldMs = maxHoldMs;
  }

  /**
   * Calls `start` once a slot is free, in arrival order, and holds the slot until `response`
   * closes. A call whose response closes while it waits (the caller hung up) never starts.
   */
  admit(response: EventEmitter, start: () => void): void {
    let slotHeld = false;
    let holdTimer: ReturnType<typeof setTimeout> | undefined;
    const release = () => {
      if (!slotHeld) return;
      slotHeld = false;
      clearTimeout(holdTimer);
      this.#inUse--;
      // Each reply left 15–20 MB of buffers behind (writer growth, its copy, the envelope, the
      // send queue), mostly outside the JS heap, where they do not hurry the collector: at 100
      // Lists a second of 10,000 the peak RSS rose past 450 MiB. Asking for a collection now
      // (not waiting for it) kept it near 330 MiB, for ~25% fewer Lists a second at that rate.
      Bun.gc(false);
      this.#waiting.shift()?.();
    };
    const begin = () => {
      this.#inUse++;
      slotHeld = true;
      holdTimer = setTimeout(release, this.#maxHoldMs);
      holdTimer.unref?.();
      start();
    };
    response.once("close", () => {
      const at = this.#waiting.indexOf(begin);
      if (at >= 0) this.#waiting.splice(at, 1);
      release();
    });
    if (this.#inUse < this.#slots) begin();
    else this.#waiting.push(begin);
  }
}
