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

  test("after an attempt failed on what only the operator can fix (a missing SCC grant) is answered FAILED_PRECONDITION with the fix, not UNAVAILABLE", async () => {
    const connection = new DriverConnection<string>("connecting to the Kubernetes API");
    connection.failed('SCC "openshell-sandbox" (--openshift-scc) does not exist; fix: oc apply -f deploy/openshift/sandbox-scc.yaml', true);
    const err = await connection.get(60_000).then(
      () => new Error("the call succeeded"),
      (e: unknown) => e as DriverError,
    );
    expect(err).toBeInstanceOf(DriverError);
    expect((err as DriverError).code).toBe("FailedPrecondition");
    expect(err.message).toBe('the driver refuses to serve this cluster: SCC "openshell-sandbox" (--openshift-scc) does not exist; fix: oc apply -f deploy/openshift/sandbox-scc.yaml');
  });

  test("a transient failure after a precondition one is UNAVAILABLE again", async () => {
    const connection = new DriverConnection<string>("connecting to the Kubernetes API");
    connection.failed("no served Sandbox version", true);
    connection.failed("the Kubernetes API is unreachable");
    await unavailable(connection.get(60_000));
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
