/**
 * `npm start`: the whole embedded stack in one foreground process: the Temporal dev server (a
 * child process, SQLite file under the data dir), the database (PGlite unless DATABASE_URL), a
 * worker and the API. Ctrl-C or SIGTERM stops all of it.
 *
 * package.json's start script gives node `--max-old-space-size=1024`. Not as a cap: the process
 * keeps 100-150 MB of live heap (module sources and code, mostly), but with the limit node picks
 * on a large machine (4 GiB here) V8 lets the old generation grow to about 4x the live heap
 * before a full collection, and a 20k batch's short-lived chunk data (each chunk's items, result
 * writes and publish requests, promoted because a chunk takes seconds) piled up to ~400 MB of
 * heap. Below 2 GiB V8 grows by 1.3-2x instead (1.6x at 1 GiB): the heap stays near 200 MB.
 * `--max-semi-space-size=4` keeps each isolate's young generation (this one's and the workflow
 * thread's) at 4 MiB semi-spaces instead of 16, and `--require tsx/cjs` is tsx without its ESM
 * hooks thread: docs/configuration.md, "Node options and memory".
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Server } from 'node:http';
import { configuredTarget, connectNative, type TemporalTarget } from '../temporal/connection';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { migrateToLatest } from '../db/migrate';
import { DEV_TENANT, ensureDevKey } from '../auth/dev-key';
import { tenantUuid } from '../batches/ids';
import { findKey } from '../db/keys';
import { ensureWebhookSecret } from '../auth/shared-webhook-secret';
import { hasOwnWebhookSecret } from '../db/webhook-secrets';
import { createBatches } from '../batches';
import { watchedRowCache } from '../batches/row-cache';
import { appSettingsOf, createApp } from '../api/app';
import { createServer } from '../api/server';
import { attachWebSockets } from '../api/live/ws';
import { createWorkers } from '../temporal/worker';
import { workerOptions } from '../temporal/worker-options';
import { builtBundlePath } from '../temporal/bundle';
import { startDevServer, type DevServer } from '../temporal/dev-server';
import { connectClient, drainHttp, onShutdown, openDatabase, startReconcileLoop } from './boot';
import { installRetentionSchedule } from '../temporal/schedule';
import { installRuntime } from '../metrics/runtime';
import { tracingFromConfig } from '../tracing';

async function main(): Promise<void> {
  const config = loadConfig();
  // The SDK's own chatter (bundler progress, poller state) only matters when something is wrong.
  // Signals are ours: shutdown stops the API before the worker, and the worker before the database.
  const log = createLogger(config.logLevel, 'batchflow');
  // One process, one /metrics: the API's answer includes the worker's families and Core's metrics.
  const coreMetricsUrl = await installRuntime(config, log);
  const tracing = tracingFromConfig(config);
  const say = (line: string): void => console.error(`[batchflow] ${line}`);
  fs.mkdirSync(config.dataDir, { recursive: true });

  // Everything started is stopped in reverse order, even when start-up fails half-way.
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => say(`while stopping: ${String(err)}`));
  };
  onShutdown(stopAll, say);
  // Stopped last: the spans of everything else's shutdown are flushed.
  if (tracing) stops.push(() => tracing.shutdown());

  try {
    // An existing Temporal (TEMPORAL_ADDRESS) with its TLS and API key, else the dev server started here.
    let target: TemporalTarget = configuredTarget(config.temporal);
    let uiUrl = config.temporal.uiUrl;
    if (!config.temporal.address) {
      say('starting the Temporal dev server…');
      const server: DevServer = await startDevServer({
        dbFilename: path.join(config.dataDir, 'temporal.db'),
        port: config.devServer.port,
        ui: true,
        uiPort: config.devServer.uiPort,
        log: say,
      });
      stops.push(() => server.stop());
      target = { address: server.address, namespace: config.temporal.namespace };
      if (server.uiUrl && !process.env.TEMPORAL_UI_URL) uiUrl = server.uiUrl.replace('127.0.0.1', 'localhost');
    }

    const database = await openDatabase(config);
    stops.push(() => database.close());
    const applied = await migrateToLatest(database.db);
    if (applied.length > 0) say(`migrated the ${database.kind} database: ${applied.join(', ')}`);
    const devKey = await ensureDevKey(database.db, { dataDir: config.dataDir, fixed: config.devApiKey });

    const connection = await connectNative(target);
    stops.push(() => connection.close());
    // Made once and kept in the data dir: receivers verify with it, so it outlives restarts.
    const webhookSecret = ensureWebhookSecret({ dataDir: config.dataDir, fixed: config.webhook.secret });
    // WORKFLOW_BUNDLE_PATH, else the bundle `npm run build` made when this runs from dist/, else bundled now.
    const bundlePath = config.workflowBundlePath ?? builtBundlePath();
    const workers = await createWorkers({
      ...workerOptions({ ...config, webhook: { ...config.webhook, secret: webhookSecret.secret } }),
      connection,
      db: database.db,
      ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : {}),
      shutdownGraceMs: config.shutdown.workerGraceMs,
      tracing,
    });
    const running = Promise.all(workers.map((w) => w.run()));
    stops.push(async () => {
      for (const w of workers) w.shutdown();
      await running;
    });

    const client = await connectClient(target, Boolean(tracing));
    stops.push(() => client.connection.close());
    // Rows for progress reads, dropped by the database's change notifications (src/batches/row-cache.ts).
    const watched = await watchedRowCache(database.listen);
    stops.push(() => watched.close());
    const batches = createBatches({
      db: database.db,
      client,
      log,
      taskQueue: config.temporal.taskQueue,
      namespace: config.temporal.namespace,
      uiUrl,
      retry: config.retry,
      staleAfterMinutes: config.staleBatchMinutes,
      allowPrivateCallbacks: config.allowPrivateCallbacks,
      workerSlots: config.activitySlots,
      progressPollMs: config.progressPollMs,
      rows: watched.rows,
    });
    stops.push(async () => batches.close());
    const schedule = await installRetentionSchedule(client, { taskQueue: config.temporal.taskQueue, retentionDays: config.retentionDays });
    if (schedule.outcome === 'failed')
      say(`could not install the retention schedule (${String(schedule.error)}); batches run, old ones stay`);
    const reconcile = startReconcileLoop(batches, config.reconcileIntervalMs, log);
    stops.push(async () => reconcile.stop());
    const app = createApp({
      db: database.db,
      client,
      batches,
      log,
      ...appSettingsOf(config),
      coreMetricsUrl,
    });
    const http: Server = createServer(app).listen(config.port);
    await new Promise<void>((resolve, reject) => http.once('listening', resolve).once('error', reject));
    // Live streams end before the server closes (they would hold it open); other requests get API_SHUTDOWN_DRAIN_MS.
    const live = attachWebSockets(http, app);
    stops.push(() => drainHttp(http, () => live.close(), config.shutdown.apiDrainMs));

    say(`API          http://localhost:${config.port}`);
    say(`Temporal UI  ${uiUrl}`);
    say(`dev API key  ${devKey}   (also in ${path.join(config.dataDir, 'dev-api-key')})`);
    say(`dev tenant   ${DEV_TENANT}, as a UUID ${tenantUuid(DEV_TENANT)} (the document design's tenant_id)`);
    if (!(await findKey(database.db, devKey)))
      say(`             (revoked: delete ${path.join(config.dataDir, 'dev-api-key')} for a new one, or mint one with npm run keys)`);
    // On the console only, like the dev key: the structured log never carries a secret.
    if (await hasOwnWebhookSecret(database.db, DEV_TENANT))
      say("webhook key  the dev tenant's own (shown once by `npm run keys -- webhook-secret`)");
    else if (webhookSecret.source === 'env') say('webhook key  WEBHOOK_SECRET (for tenants without a secret of their own)');
    else
      say(
        `webhook key  ${webhookSecret.secret}   (signs for tenants without a secret of their own, the dev tenant too; also in ${webhookSecret.file})`,
      );
    say(`database     ${database.kind}${database.kind === 'pglite' ? ` in ${path.join(config.dataDir, 'pglite')}` : ''}`);
    say('press Ctrl-C to stop');
    await running;
  } catch (err) {
    say(`start-up failed: ${err instanceof Error ? err.message : String(err)}`);
    await stopAll();
    process.exit(1);
  }
}

void main();
