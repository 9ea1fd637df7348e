/** `npm run api`: the production API process, against DATABASE_URL and TEMPORAL_ADDRESS. */
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { assertMigrated } from '../db/migrate';
import { createBatches } from '../batches';
import { watchedRowCache } from '../batches/row-cache';
import { appSettingsOf, createApp } from '../api/app';
import { createServer } from '../api/server';
import { attachWebSockets } from '../api/live/ws';
import { ensureDevKey } from '../auth/dev-key';
import { tracingFromConfig } from '../tracing';
import { explainMissingSearchAttributes } from '../temporal/search-attribute-setup';
import { connectClient, drainHttp, onShutdown, openDatabase, startReconcileLoop } from './boot';
import { configuredTarget } from '../temporal/connection';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, 'api');
  const tracing = tracingFromConfig(config, `${config.tracing?.serviceName ?? 'batchflow'}-api`);
  const { db, close, listen } = await openDatabase(config);
  await assertMigrated(db);
  // Rows for progress reads, dropped by the database's change notifications (src/batches/row-cache.ts).
  const watched = await watchedRowCache(listen);
  if (config.devApiKey) await ensureDevKey(db, { dataDir: config.dataDir, fixed: config.devApiKey });
  const client = await connectClient(configuredTarget(config.temporal), Boolean(tracing));
  // Said at start rather than first in a submit's 503: the namespace lacks the search attributes.
  void explainMissingSearchAttributes(client.connection.operatorService, {
    namespace: config.temporal.namespace,
    address: config.temporal.address,
  }).then((why) => why && log.warn(why));
  const batches = createBatches({
    db,
    client,
    log,
    taskQueue: config.temporal.taskQueue,
    namespace: config.temporal.namespace,
    uiUrl: config.temporal.uiUrl,
    retry: config.retry,
    staleAfterMinutes: config.staleBatchMinutes,
    allowPrivateCallbacks: config.allowPrivateCallbacks,
    workerSlots: config.activitySlots,
    progressPollMs: config.progressPollMs,
    rows: watched.rows,
  });
  const app = createApp({ db, client, batches, log, ...appSettingsOf(config) });
  const server = createServer(app).listen(config.port);
  const live = attachWebSockets(server, app);
  const reconcile = startReconcileLoop(batches, config.reconcileIntervalMs, log);
  await once(server, 'listening');
  // The port actually bound (PORT=0 picks a free one).
  log.info({ port: (server.address() as AddressInfo).port }, 'api listening');
  onShutdown(
    async () => {
      reconcile.stop();
      // Live streams end first (they would hold the server open); other requests get API_SHUTDOWN_DRAIN_MS.
      await drainHttp(server, () => live.close(), config.shutdown.apiDrainMs);
      batches.close();
      await watched.close();
      await client.connection.close();
      await close();
      await tracing?.shutdown();
    },
    (m) => log.info(m),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
