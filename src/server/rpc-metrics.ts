// Counting and timing every RPC by the status it ended with. A call whose client hung up counts as
// Canceled, whatever the handler threw once its signal fired: the driver did nothing wrong, and an
// Internal count would page someone for a gateway restart.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Metrics } from "./metrics";

type Outcome = keyof typeof Code | "OK";

/** Only the deadline and the client end a call's signal before the call itself has ended. */
function outcome(signal: AbortSignal, error: { thrown: unknown } | undefined): Outcome {
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    return reason instanceof ConnectError && reason.code === Code.DeadlineExceeded ? "DeadlineExceeded" : "Canceled";
  }
  return error === undefined ? "OK" : (Code[ConnectError.from(error.thrown).code] as Outcome);
}

export function rpcMetricsInterceptor(metrics: Metrics): Interceptor {
  return (next) => async (req) => {
    const method = req.method.name;
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;

    if (req.method.methodKind === "unary") {
      const finish = (error: { thrown: unknown } | undefined) => {
        metrics.rpcRequests.inc({ method, code: outcome(req.signal, error) });
        metrics.rpcDuration.observe({ method }, seconds());
      };
      try {
        const res = await next(req);
        finish(undefined);
        return res;
      } catch (thrown) {
        finish({ thrown });
        throw thrown;
      }
    }

    metrics.watchStreams.inc();
    let finished = false;
    const finish = (error: { thrown: unknown } | undefined) => {
      if (finished) return;
      finished = true;
      const code = outcome(req.signal, error);
      metrics.watchStreams.dec();
      metrics.rpcRequests.inc({ method, code });
      metrics.watchStreamDuration.observe({ code }, seconds());
    };
    let res;
    try {
      res = await next(req);
    } catch (thrown) {
      finish({ thrown });
      throw thrown;
    }
    if (!res.stream) {
      finish(undefined);
      return res;
    }
    const messages = res.message;
    return {
      ...res,
      message: (async function* () {
        let error: { thrown: unknown } | undefined;
        try {
          yield* messages;
        } catch (thrown) {
          error = { thrown };
          throw thrown;
        } finally {
          finish(error);
        }
      })(),
    };
  };
}
