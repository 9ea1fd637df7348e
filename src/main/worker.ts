/** `npm run worker`: the production worker process. Scale by running more of them. */
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { assertMigrated } from '../db/migrate';
import { createWorkers } from '../worker/create-worker';
import { workerOptions } from '../worker/options';
import { onShutdown, openDatabase } from './runtime';
import { Client } from '@temporalio/client';
import { installRetentionSchedule } from '../temporal/schedule';

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
  // Not fatal: batches without a callback_url need no secret. Nothing is ever sent unsigned; each
  // delivery fails, and GET /v1/batches/{id} says why.
  if (!config.webhook.secret) log.warn('WEBHOOK_SECRET is not set: completion webhooks will not be sent until it is');
  const schedule = await installRetentionSchedule(new Client({ connection, namespace: config.temporal.namespace }), { taskQueue: config.temporal.taskQueue, retentionDays: config.retentionDays });
  if (schedule.outcome === 'failed') log.warn({ err: schedule.error, scheduleId: schedule.scheduleId }, 'could not install the retention schedule; batches run, old ones stay');
  else log.info({ scheduleId: schedule.scheduleId, outcome: schedule.outcome, retentionDays: config.retentionDays }, 'retention schedule');
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
