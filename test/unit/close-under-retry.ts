/**
 * A child process for test/unit/grpc-retry.test.ts: a call fails retryably (nothing listens on
 * port 1), its retry is scheduled, and the connection is closed before the retry fires. `sdk`
 * closes a connection with the SDK's own retry interceptor; `closable` with src/temporal/grpc-retry.ts's.
 * Prints what became of the call; an uncaught exception prints UNCAUGHT and exits 3.
 */
import { Connection } from '@temporalio/client';
import { closableRetry } from '../../src/temporal/grpc-retry';

process.on('uncaughtException', (err) => {
  console.log(`UNCAUGHT ${err.message}`);
  process.exit(3);
});

async function main(mode: string): Promise<void> {
  const retry = closableRetry();
  const connection = Connection.lazy({ address: '127.0.0.1:1', ...(mode === 'closable' ? { interceptors: [retry.interceptor] } : {}) });
  const call = connection.workflowService.getSystemInfo({}).then(
    () => 'answered',
    (err: Error) => `rejected: ${err.message}`,
  );
  await new Promise((r) => setTimeout(r, 50)); // the first attempt has failed; its retry waits
  if (mode === 'closable') await retry.drain();
  await connection.close();
  console.log(`closed; the call ${await call}`);
  // Any retry still scheduled fires within the backoff's cap; give it the time to.
  await new Promise((r) => setTimeout(r, 1_000));
  console.log('exited cleanly');
}

void main(process.argv[2] ?? 'sdk');
