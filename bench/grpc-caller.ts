// The bench's handle on bench/grpc_caller.py: unary calls on the driver's socket made by a C-core
// gRPC client in its own process, each timed there, so a driver call's figure is the driver and
// the socket, as the gateway's compiled client sees them, and not this process's Connect stack.
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { join } from "node:path";
import { REPO } from "../test/support/paths";

export interface CallOutcome {
  /** grpcio's code name: "OK", "NOT_FOUND", … */
  code: string;
  /** The call's time as the client measured it. */
  ms: number;
}

export class GrpcioCaller {
  readonly #proc: Bun.Subprocess<"pipe", "pipe", "pipe">;
  readonly #waiting = new Map<number, (outcome: CallOutcome) => void>();
  readonly #done: Promise<void>;
  #seq = 0;

  constructor(socket: string) {
    this.#proc = Bun.spawn(["/usr/bin/python3", join(REPO, "bench/grpc_caller.py"), socket], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    this.#done = this.#read();
  }

  async #read(): Promise<void> {
    let pending = "";
    for await (const chunk of this.#proc.stdout.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        const [seq, code, ms] = line.split(" ");
        const resolve = this.#waiting.get(Number(seq));
        this.#waiting.delete(Number(seq));
        resolve?.({ code: code!, ms: Number(ms) });
      }
    }
    const stderr = await new Response(this.#proc.stderr).text();
    const exit = await this.#proc.exited;
    if (this.#waiting.size > 0) throw new Error(`bench/grpc_caller.py exited (${exit}) with ${this.#waiting.size} calls unanswered: ${stderr}`);
  }

  /** One call of `method` with `message`; rejects unless it ends with `expect` (OK by default). */
  async call<S extends DescMessage>(method: string, schema: S, message: MessageInitShape<S>, expect = "OK"): Promise<number> {
    const seq = this.#seq++;
    const bytes = toBinary(schema, create(schema, message));
    const answered = new Promise<CallOutcome>((resolve) => this.#waiting.set(seq, resolve));
    this.#proc.stdin.write(`${seq} ${method} ${bytes.length === 0 ? "-" : Buffer.from(bytes).toString("hex")}\n`);
    this.#proc.stdin.flush();
    const outcome = await Promise.race([answered, this.#done.then(() => Promise.reject(new Error("bench/grpc_caller.py ended")))]);
    if (outcome.code !== expect) throw new Error(`${method} answered ${outcome.code}, expected ${expect}`);
    return outcome.ms;
  }

  async close(): Promise<void> {
    this.#proc.stdin.end();
    await this.#done;
  }
}
