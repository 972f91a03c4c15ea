// A SandboxDriver whose own Kubernetes client and informers talk to an in-memory API server over
// HTTP (fake-sandbox-api.ts): a fresh API server for every test, and every driver a test started
// stopped after it.
import { afterEach, beforeEach, expect } from "bun:test";
import { SandboxDriver } from "../../src/driver/driver";
import { DriverError } from "../../src/driver/errors";
import { eventually as eventuallyEvery } from "../support/cluster";
import { FakeSandboxApi } from "./fake-sandbox-api";
import { keptPodFeatures, makeSettings } from "./fixtures";
import { plainKubernetes } from "./platform-fixtures";

export interface DriversOnFakeApi {
  /** This test's API server. */
  readonly api: FakeSandboxApi;
  /** A started driver on it, not yet synced. */
  startDriver(): SandboxDriver;
}

/** Registers the hooks that give each test of the file its API server; call at the file's top. */
export function driversOnFakeApi(): DriversOnFakeApi {
  let api: FakeSandboxApi | undefined;
  const drivers: SandboxDriver[] = [];
  beforeEach(async () => {
    api = new FakeSandboxApi();
    await api.start();
  });
  afterEach(async () => {
    for (const driver of drivers.splice(0)) await driver.stop();
    await api?.close();
  });
  return {
    get api() {
      if (!api) throw new Error("the fake API server exists only inside a test");
      return api;
    },
    startDriver() {
      const driver = new SandboxDriver({ client: this.api.client(5000), settings: makeSettings(), platform: plainKubernetes(), podFeatures: keptPodFeatures(), stopTimeoutMs: 5000 });
      drivers.push(driver);
      driver.start();
      return driver;
    },
  };
}

/** Polls the in-process fake every 10 ms, for up to 20000 ms. */
export const eventually = <T>(what: string, check: () => T | undefined) => eventuallyEvery(what, check, 20000, 10);

/** The DriverError a call of the driver rejects with. */
export async function driverRejection(call: Promise<unknown>): Promise<DriverError> {
  const err = await call.then(
    () => new Error("the call succeeded"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DriverError);
  return err as DriverError;
}
