/**
 * The client's gRPC retries, made safe to close under.
 *
 * The SDK's retry interceptor (@temporalio/client 1.24, lib/grpc-retry.js) schedules each retry of
 * a failed call with setTimeout and starts it on the channel when the timer fires. A retry that
 * fires after Connection.close() makes grpc-js throw "Channel has been shut down" from inside that
 * timer: an uncaught exception that ends the process, not a rejected call. A call that failed
 * retryably just before shutdown (a progress query, say) was enough; the test suite saw it about
 * once in nine runs, after a file's last test.
 *
 * This keeps the SDK's interceptor and its default backoff, and adds one thing: once the connection
 * is closing, no further retry is scheduled, and close() first waits for the retries already
 * scheduled to have fired (the backoff caps each wait at seconds). A retry that then fails ends
 * its call with that failure.
 */
import { Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type ConnectionOptions } from '@temporalio/client';

/** Past the last scheduled retry: timers fire a little late, never early. */
const TIMER_SLACK_MS = 50;

export interface ClosableRetry {
  interceptor: ReturnType<typeof makeGrpcRetryInterceptor>;
  /** Schedules no more retries, and resolves once every retry already scheduled has started. */
  drain(): Promise<void>;
}

export function closableRetry(): ClosableRetry {
  const base = defaultGrpcRetryOptions();
  let closing = false;
  let lastFiresAt = 0;
  const interceptor = makeGrpcRetryInterceptor({
    retryableDecider: (attempt, status) => !closing && base.retryableDecider(attempt, status),
    // Asked only for a retry that will be scheduled, right before its setTimeout.
    delayFunction: (attempt, status) => {
      const ms = base.delayFunction(attempt, status);
      lastFiresAt = Math.max(lastFiresAt, Date.now() + ms);
      return ms;
    },
  });
  return {
    interceptor,
    drain: async () => {
      closing = true;
      const wait = lastFiresAt - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait + TIMER_SLACK_MS));
    },
  };
}

/** Connection.connect with the SDK's retries, whose close() never leaves a retry to fire after it. */
export async function connectClosable(options: ConnectionOptions): Promise<Connection> {
  const retry = closableRetry();
  const connection = await Connection.connect({ ...options, interceptors: [retry.interceptor] });
  const close = connection.close.bind(connection);
  connection.close = async () => {
    await retry.drain();
    await close();
  };
  return connection;
}
