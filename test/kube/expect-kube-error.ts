import { expect } from "bun:test";
import { KubeApiError } from "../../src/kube";

/** The KubeApiError a call fails with; fails the test if it succeeds or fails otherwise. */
export async function failure(p: Promise<unknown>): Promise<KubeApiError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(KubeApiError);
    return err as KubeApiError;
  }
  throw new Error("expected the call to fail");
}
