/** `npm run worker`: the production worker process. Scale by running more of them. */
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { assertMigrated } from '../db/migrate';
import { createWorkers } from '../worker/create-worker';
import { workerOptions } from '../worker/options';
import { onShutdown, openDatabase } from './runtime';

async function main(): Promise<void> {
  const config = loadConfig();
  // The SDK's own chatter (bundler progress, poller state) only matters when something is wrong.
  // Signals are ours: shutdown stops the API before the worker, and the worker before the database.
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  const log = createLogger(config.logLevel, 'worker');
  const { db, close } = await openDatabase(config);
  await assertMigrated(db);
  const connection = await NativeConnection.connect({ address: config.temporal.address ?? 'localhost:7233' });
  const workers = await createWorkers({ ...workerOptions(config), connection, db });
  log.info({ taskQueue: config.temporal.taskQueue }, 'worker running (normal and express queues)');
  const running = Promise.all(workers.map((w) => w.run()));
  // shutdown() stops polling and lets running activities finish or heartbeat out; the process
  // exits once they have, with the connection and database closed behind them.
  onShutdown(async () => {
    for (const w of workers) w.shutdown();
    await running;
    await connection.close();
    await close();
  }, (m) => log.info(m));
  await running;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
