// RPCs that come while `serve` is still connecting to the cluster.
import { describe, expect, test } from "bun:test";
import { DriverConnection } from "../../src/cli/driver-connection";
import { DriverError } from "../../src/driver/errors";

async function unavailable(call: Promise<unknown>): Promise<DriverError> {
  const err = await call.then(
    () => new Error("the call succeeded"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DriverError);
  expect((err as DriverError).code).toBe("Unavailable");
  return err as DriverError;
}

describe("a call made before the driver is connected", () => {
  test("during the first connection attempt waits for it and gets the driver, not UNAVAILABLE", async () => {
    const connection = new DriverConnection<string>("connecting to the Kubernetes API");
    const call = connection.get(5000);
    setTimeout(() => connection.connected("driver"), 20);
    expect(await call).toBe("driver");
  });

  test("after the first attempt failed is answered UNAVAILABLE at once, saying what failed", async () => {
    const connection = new DriverConnection<string>("connecting to the Kubernetes API");
    connection.failed("the Sandbox CRD is not installed");
    const call = connection.get(60_000);
    // Settled before any timer could fire: nothing was waited for.
    expect(await Promise.race([call.then(() => "answered", () => "answered"), Bun.sleep(0).then(() => "still waiting")])).toBe("answered");
    const err = await unavailable(call);
    expect(err.message).toContain("the Sandbox CRD is not installed");
  });

  test("still waiting when its wait runs out is UNAVAILABLE naming what is under way", async () => {
    const connection = new DriverConnection<string>("connecting to the Kubernetes API");
    const err = await unavailable(connection.get(20));
    expect(err.message).toContain("connecting to the Kubernetes API");
  });

  test("whose caller hangs up stops waiting", async () => {
    const connection = new DriverConnection<string>("connecting to the Kubernetes API");
    const abort = new AbortController();
    const call = connection.get(60_000, abort.signal);
    abort.abort();
    await unavailable(call);
  });
});
