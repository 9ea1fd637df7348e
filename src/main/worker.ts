/** `npm run worker`: the production worker process. Scale by running more of them. */
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { assertMigrated } from '../db/migrate';
import { createWorker } from '../worker/create-worker';
import { onShutdown, openDatabase } from './runtime';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, 'worker');
  const { db, close } = await openDatabase(config);
  await assertMigrated(db);
  const connection = await NativeConnection.connect({ address: config.temporal.address ?? 'localhost:7233' });
  const worker = await createWorker({ connection, namespace: config.temporal.namespace, taskQueue: config.temporal.taskQueue, db, publishUrl: config.publishUrl, publishTimeoutMs: config.publishTimeoutMs });
  log.info({ taskQueue: config.temporal.taskQueue }, 'worker running');
  // worker.shutdown() stops polling and lets running activities finish or heartbeat out.
  onShutdown(async () => worker.shutdown(), (m) => log.info(m));
  await worker.run();
  await connection.close();
  await close();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
