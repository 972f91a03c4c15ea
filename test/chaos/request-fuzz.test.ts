// Fuzz tier: more than ten thousand generated requests on the driver's socket, sent as raw HTTP/2 so
// that the gRPC framing can be wrong too. The driver must answer each with a status a gateway can
// act on (never INTERNAL or UNKNOWN), stay alive, give its memory back, and create nothing for a
// request it refused.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import http2 from "node:http2";
import { connectClient } from "../support/clients";
import { driverKubeconfig } from "../support/cluster";
import { startDriver, type DriverProcess } from "../support/driver-process";
import { BROKEN_CODES, OUTAGE_CODES, Tally, clusterSandboxIds, codeName, removeGatewaySandboxes, report, rssKiB } from "./chaos-kit";
import { FuzzGenerator, type FuzzCase } from "./fuzz-requests";

const NS = "openshell-system";
const GATEWAY_ID = `chaos-fuzz-${Date.now().toString(36)}`;
const SEED = 7_2026;
const REQUESTS = 10_000;
const OVERSIZED_BODIES = 8;
const CONCURRENCY = 16;
const ANSWER_TIMEOUT_MS = 20_000;
/** Headroom for the allocator keeping freed pages; a leak of even a few KiB per request exceeds it. */
const RSS_HEADROOM_KIB = 160 * 1024;

let driver: DriverProcess;

beforeAll(async () => {
  driver = await startDriver({ kubeconfig: driverKubeconfig(), gatewayId: GATEWAY_ID, args: ["--kube-timeout=10s"] });
});

afterAll(async () => {
  await removeGatewaySandboxes(NS, GATEWAY_ID);
  await driver?.stop();
});

class RawGrpc {
  #session: http2.ClientHttp2Session | undefined;
  /** GOAWAY error codes the driver sent: each one ends every RPC in flight on that connection. */
  readonly goaways: number[] = [];
  constructor(private readonly socket: string) {}

  #connected(): http2.ClientHttp2Session {
    if (!this.#session || this.#session.closed || this.#session.destroyed) {
      const session = http2.connect("http://localhost", { createConnection: () => connect(this.socket) });
      session.on("error", () => {});
      session.on("goaway", (code) => this.goaways.push(code));
      this.#session = session;
    }
    return this.#session;
  }

  close(): void {
    this.#session?.close();
  }

  /** The grpc-status name, "HTTP <n>" when the reply had none, "RESET <why>" or "HUNG". */
  send(c: FuzzCase): Promise<string> {
    return new Promise((resolve) => {
      let status = 0;
      let settled = false;
      const stream = this.#connected().request({ ":method": "POST", ":path": c.path, "content-type": c.contentType, te: "trailers" });
      const timer = setTimeout(() => {
        done("HUNG");
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }, ANSWER_TIMEOUT_MS);
      const done = (v: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(v);
      };
      // An RPC is over once its status arrives (trailers-only or trailers), even while the
      // server leaves the rest of a refused request body unread.
      const answered = (h: http2.IncomingHttpHeaders) => {
        if (h["grpc-status"] === undefined) return;
        done(codeName(Number(h["grpc-status"])));
        if (!stream.writableFinished) stream.close(http2.constants.NGHTTP2_CANCEL);
      };
      stream.on("response", (h) => {
        status = Number(h[":status"]);
        answered(h);
      });
      stream.on("trailers", answered);
      stream.on("data", () => {});
      stream.on("error", (e: NodeJS.ErrnoException) => done(`RESET ${e.code ?? e.message}`));
      stream.on("close", () => done(status ? `HTTP ${status}` : `RESET ${stream.rstCode}`));
      stream.end(c.body);
    });
  }
}

test(`${REQUESTS} generated requests: no crash, no INTERNAL or UNKNOWN, memory back near baseline, no CR for a refused create`, async () => {
  const pid = driver.proc.pid;
  const generator = new FuzzGenerator(SEED, GATEWAY_ID.replace("chaos-", ""));
  const raw = new RawGrpc(driver.socket);
  const byKind = new Map<string, Tally>();
  const broken: string[] = [];
  const acceptedCreates = new Set<string>();
  const refusedCreates = new Set<string>();
  /** Creates whose answer was lost with the connection: they may or may not have happened. */
  const unknownCreates = new Set<string>();

  const run = async (cases: FuzzCase[]) => {
    let i = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (i < cases.length) {
          const c = cases[i++]!;
          const code = await raw.send(c);
          if (!byKind.has(c.kind)) byKind.set(c.kind, new Tally());
          byKind.get(c.kind)!.add(code);
          if (BROKEN_CODES.has(code) || code === "HUNG") broken.push(`${c.kind} ${c.path} → ${code}`);
          if (c.createdId !== undefined) {
            if (code === "OK") acceptedCreates.add(c.createdId);
            // No answer, or one that says the outcome is not known (a create slower than --kube-timeout may still land).
            else if (code.startsWith("RESET") || OUTAGE_CODES.has(code)) unknownCreates.add(c.createdId);
            else refusedCreates.add(c.createdId);
          }
        }
      }),
    );
  };
  const batch = (n: number) => Array.from({ length: n }, () => generator.next());

  await run(batch(500));
  await Bun.sleep(1000);
  const baselineKiB = rssKiB(pid);
  for (let sent = 500; sent < REQUESTS; sent += 500) await run(batch(Math.min(500, REQUESTS - sent)));
  await run(Array.from({ length: OVERSIZED_BODIES }, () => generator.oversizedBody()));
  raw.close();

  expect(driver.proc.exitCode).toBeNull();
  // The driver still serves a well-formed call after all of it.
  const client = connectClient(driver.socket);
  await client.getCapabilities({});
  await Bun.sleep(2000);
  const finalKiB = rssKiB(pid);

  const inCluster = clusterSandboxIds(NS, GATEWAY_ID);
  const phantom = inCluster.filter((id) => !acceptedCreates.has(id) && !unknownCreates.has(id));
  const refusedButCreated = inCluster.filter((id) => refusedCreates.has(id) && !acceptedCreates.has(id) && !unknownCreates.has(id));
  if (phantom.length || refusedButCreated.length) console.log("[chaos]   unexplained CRs:", JSON.stringify({ phantom, refusedButCreated, unknown: inCluster.filter((id) => unknownCreates.has(id)) }));
  for (const id of inCluster) await client.deleteSandbox({ sandboxId: id });

  const tried = [...byKind.values()].reduce((n, t) => n + t.total(), 0);
  const resets = [...byKind.values()].reduce((n, t) => n + [...t.counts].filter(([k]) => k.startsWith("RESET")).reduce((m, [, v]) => m + v, 0), 0);
  for (const [kind, tally] of [...byKind.entries()].sort()) console.log(`[chaos]   ${kind}: ${tally}`);
  report("request fuzz", {
    tried,
    seed: SEED,
    accepted: acceptedCreates.size,
    answerLost: unknownCreates.size,
    goaways: `[${raw.goaways.join(",")}]`,
    resets,
    broken: broken.length,
    crashes: driver.proc.exitCode === null ? 0 : 1,
    rssBaselineMiB: (baselineKiB / 1024).toFixed(0),
    rssFinalMiB: (finalKiB / 1024).toFixed(0),
    crForRefused: refusedButCreated.length,
  });
  expect(tried).toBeGreaterThanOrEqual(REQUESTS);
  expect(broken).toEqual([]);
  expect(phantom).toEqual([]);
  expect(refusedButCreated).toEqual([]);
  expect(finalKiB).toBeLessThan(baselineKiB + RSS_HEADROOM_KIB);
  expect(driver.proc.exitCode).toBeNull();
  expect(driver.proc.pid).toBe(pid);
}, 300_000);
