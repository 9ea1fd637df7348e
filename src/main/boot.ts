/** Start-up steps that the embedded stack, the API process and the worker process share. */
import path from 'node:path';
import type { Server } from 'node:http';
import { Client } from '@temporalio/client';
import { connectClientConnection, type TemporalTarget } from '../temporal/connection';
import { openDb, type Db } from '../db/connect';
import { statementMetric } from '../db/statement-metric';
import type { Config } from '../config';
import type { Logger } from 'pino';
import { clientInterceptors } from '../tracing';
import type { Batches } from '../batches';

/** PostgreSQL when configured; otherwise the embedded PGlite under the data dir. Its statements are counted on /metrics. */
export async function openDatabase(config: Config): Promise<Db> {
  const opened = await openDb({ url: config.databaseUrl, pgliteDir: path.join(config.dataDir, 'pglite'), ...config.database });
  return { ...opened, db: opened.db.withPlugin(statementMetric) };
}

/** `traced`: the client's workflow starts and signals open spans (src/tracing; off by default). */
export async function connectClient(target: TemporalTarget, traced = false): Promise<Client> {
  const connection = await connectClientConnection(target);
  return new Client({ connection, namespace: target.namespace, ...(traced ? { interceptors: clientInterceptors() } : {}) });
}

/**
 * Runs `stop` once on SIGINT/SIGTERM, then exits. A second signal exits at once, for the
 * operator who really means it.
 */
export function onShutdown(stop: () => Promise<void>, log: (msg: string) => void): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(130);
    stopping = true;
    log(`${signal}: shutting down`);
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/**
 * Stops an HTTP server without cutting anyone off mid-answer: it stops accepting connections, ends
 * the live streams (`endStreams`: SSE ended, WebSockets closed with 1001; clients reconnect to
 * another instance and resume from their last event id), closes idle keep-alive connections, and
 * gives requests still running `drainMs` before their connections are closed too.
 */
export async function drainHttp(server: Server, endStreams: () => Promise<void>, drainMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  await endStreams();
  server.closeIdleConnections();
  const deadline = setTimeout(() => server.closeAllConnections(), drainMs);
  // An idle keep-alive connection that sends one more request gets its answer and then is idle again.
  const sweep = setInterval(() => server.closeIdleConnections(), 250);
  try {
    await closed;
  } finally {
    clearTimeout(deadline);
    clearInterval(sweep);
  }
}

/**
 * The reconcile loop (src/batches/reconcile.ts) of an API process: a pass at once (at boot a
 * queued batch of any age is looked at: no submit of this process is under way), then one every
 * `intervalMs`. A pass that fails (Temporal or the database down) is logged; the next tick tries again.
 */
export function startReconcileLoop(batches: Pick<Batches, 'reconcile'>, intervalMs: number, log: Logger): { stop(): void } {
  const run = (queuedOlderThanMs?: number): void =>
    void batches
      .reconcile(queuedOlderThanMs === undefined ? {} : { queuedOlderThanMs })
      .catch((err: unknown) => log.error({ err }, 'reconcile pass failed'));
  run(0);
  const timer = setInterval(() => run(), intervalMs);
  return { stop: () => clearInterval(timer) };
}
