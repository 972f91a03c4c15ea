// /readyz is read from state the driver keeps, never from a live API call: while the API server
// stops answering, a probe still gets its answer at once, and the answer says what is wrong.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clusterState, driverKubeconfig, eventually } from "../support/cluster";
import { startDriver } from "../support/driver-process";

/** A TCP relay to the API server that can stop moving bytes, as a frozen API server would. */
class FreezableRelay {
  readonly #sockets = new Set<Socket>();
  readonly #server = createServer((client) => {
    const upstream = connect(this.target.port, this.target.host);
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      this.#sockets.add(from);
      from.on("data", (chunk) => to.write(chunk));
      from.on("close", () => {
        this.#sockets.delete(from);
        to.destroy();
      });
      from.on("error", () => to.destroy());
      if (this.#frozen) from.pause();
    }
  });
  #frozen = false;

  constructor(readonly target: { host: string; port: number }) {}

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    return (this.#server.address() as AddressInfo).port;
  }

  freeze(frozen: boolean): void {
    this.#frozen = frozen;
    for (const socket of this.#sockets) {
      if (frozen) socket.pause();
      else socket.resume();
    }
  }

  close(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#server.close();
  }
}

const scratch = mkdtempSync(join(tmpdir(), "osdrv-ready-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** One /readyz answer, or "no answer" when none comes within a bound far below the kube timeout. */
async function readyz(healthUrl: string): Promise<{ status: number; body: string } | "no answer"> {
  try {
    const res = await fetch(`${healthUrl}/readyz`, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return "no answer";
  }
}

describe("readiness", () => {
  test("while the API server stops answering, /readyz still answers, 503 saying the API does not answer, and recovers", async () => {
    const api = new URL(clusterState().apiserverUrl);
    const relay = new FreezableRelay({ host: api.hostname, port: Number(api.port) });
    const port = await relay.listen();
    const kubeconfig = join(scratch, "relayed.kubeconfig");
    writeFileSync(kubeconfig, readFileSync(driverKubeconfig(), "utf8").replace(api.origin, `https://127.0.0.1:${port}`), { mode: 0o600 });
    // A kube timeout far beyond every wait below: a /readyz that waits on the API cannot pass.
    const driver = await startDriver({ kubeconfig, gatewayId: "readyz", args: ["--kube-timeout=300s"] });
    try {
      relay.freeze(true);
      const frozen = await eventually("/readyz to report the silent API (or to stop answering)", async () => {
        const answer = await readyz(driver.healthUrl);
        return answer === "no answer" || answer.status === 503 ? answer : undefined;
      });
      expect(frozen).not.toBe("no answer");
      expect(frozen).toMatchObject({ status: 503 });
      // Usually the check is still waiting; the API server may also have reset the silent connection.
      // The verdict, then the platform the driver adapts to (detected before the freeze).
      expect((frozen as { body: string }).body).toMatch(/^not ready: the Kubernetes API (has not answered for \d+ s|is unreachable: .+)\nplatform: kubernetes \(.+\)\n$/);

      relay.freeze(false);
      await eventually("/readyz to turn 200 again", async () => {
        const answer = await readyz(driver.healthUrl);
        return answer !== "no answer" && answer.status === 200 ? true : undefined;
      });
    } finally {
      relay.freeze(false);
      await driver.stop();
      relay.close();
    }
  });
});
