/** `npm run worker`: the production worker process. Scale by running more of them. */
import fs from 'node:fs';
import { configuredTarget, connectNative } from '../temporal/connection';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { assertMigrated } from '../db/migrate';
import { sharedSecretNotice } from '../auth/shared-webhook-secret';
import { createWorkers } from '../temporal/worker';
import { workerOptions } from '../temporal/worker-options';
import { builtBundlePath } from '../temporal/bundle';
import { onShutdown, openDatabase } from './boot';
import { Client } from '@temporalio/client';
import { installRetentionSchedule } from '../temporal/schedule';
import { setUpSearchAttributes } from '../temporal/search-attribute-setup';
import { installRuntime } from '../metrics/runtime';
import { serveMetrics } from '../metrics/temporal-core';
import { createScraper } from '../metrics/scrape';
import { tracingFromConfig } from '../tracing';

async function main(): Promise<void> {
  const config = loadConfig();
  // The SDK's own chatter (bundler progress, poller state) only matters when something is wrong.
  // Signals are ours: shutdown stops the API before the worker, and the worker before the database.
  const log = createLogger(config.logLevel, 'worker');
  const coreMetricsUrl = await installRuntime(config, log);
  const tracing = tracingFromConfig(config, `${config.tracing?.serviceName ?? 'batchflow'}-worker`);
  // This process's /metrics (activity, item and compensation counters, Core's metrics): it has no
  // API to serve them. Bound first, so a port already taken stops the process before it says it runs.
  const metricsPort = config.metrics?.workerPort ?? 0;
  const metricsServer =
    metricsPort > 0
      ? await serveMetrics(createScraper({ coreUrl: coreMetricsUrl }), metricsPort, config.metrics?.workerHost ?? '0.0.0.0')
      : undefined;
  if (metricsServer) log.info({ port: metricsPort }, 'worker metrics on /metrics');
  const { db, close } = await openDatabase(config);
  await assertMigrated(db);
  const connection = await connectNative(configuredTarget(config.temporal));
  // An existing Temporal may lack the custom search attributes, and then refuses every batch: add
  // them (TEMPORAL_REGISTER_SEARCH_ATTRIBUTES), or say which are missing and the command to run.
  await setUpSearchAttributes(connection.operatorService, {
    namespace: config.temporal.namespace,
    register: config.temporal.registerSearchAttributes,
    address: config.temporal.address,
    info: (m) => log.info(m),
    warn: (m) => log.warn(m),
  });
  const bundlePath = config.workflowBundlePath ?? builtBundlePath();
  const workflowBundle = bundlePath ? prebuiltBundle(bundlePath) : undefined;
  // A prebuilt bundle carries the workflow interceptors it was built with, whatever the config says now.
  if (workflowBundle && tracing)
    log.warn(
      { workflowBundle: workflowBundle.codePath },
      'tracing is on: workflow spans need a bundle built with `npm run build:workflows -- --tracing`',
    );
  const workers = await createWorkers({
    ...workerOptions(config),
    connection,
    db,
    workflowBundle,
    shutdownGraceMs: config.shutdown.workerGraceMs,
    tracing,
  });
  log.info(
    { taskQueue: config.temporal.taskQueue, workflowBundle: workflowBundle?.codePath ?? 'bundled at start' },
    'worker running (normal and express queues)',
  );
  // Not fatal: batches without a callback_url need no secret, and nothing is ever sent unsigned
  // (a delivery without a secret fails, and GET /v1/batches/{id} says why).
  const secretNotice = await sharedSecretNotice(db, Boolean(config.webhook.secret));
  if (secretNotice) log.warn(secretNotice);
  const schedule = await installRetentionSchedule(new Client({ connection, namespace: config.temporal.namespace }), {
    taskQueue: config.temporal.taskQueue,
    retentionDays: config.retentionDays,
  });
  if (schedule.outcome === 'failed')
    log.warn(
      { err: schedule.error, scheduleId: schedule.scheduleId },
      'could not install the retention schedule; batches run, old ones stay',
    );
  else log.info({ scheduleId: schedule.scheduleId, outcome: schedule.outcome, retentionDays: config.retentionDays }, 'retention schedule');
  const running = Promise.all(workers.map((w) => w.run()));
  // shutdown() stops polling at once and gives running activities WORKER_SHUTDOWN_GRACE_MS to
  // finish; then they are cancelled: a chunk records the items it did, fails its attempt, and
  // another worker retries the rest. The process exits once they have, with the connection and
  // database closed behind them.
  onShutdown(
    async () => {
      log.info({ graceMs: config.shutdown.workerGraceMs }, 'worker stopping: no new tasks; running activities get the grace time');
      for (const w of workers) w.shutdown();
      await running;
      log.info('worker stopped');
      await connection.close();
      await close();
      metricsServer?.close();
      await tracing?.shutdown();
    },
    (m) => log.info(m),
  );
  await running;
}

/** WORKFLOW_BUNDLE_PATH, checked now: a missing file is a deployment mistake, not a reason to bundle. */
function prebuiltBundle(codePath: string): { codePath: string } {
  if (!fs.existsSync(codePath)) throw new Error(`WORKFLOW_BUNDLE_PATH: no file at ${codePath} (build it with \`npm run build:workflows\`)`);
  return { codePath };
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
