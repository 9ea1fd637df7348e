/**
 * The bench's database, what a stack offers a scenario (BenchStack), and the in-process stack used
 * on PGlite (which serves one process): one per scenario, a tenant of its own in the bench's
 * database, the real workers (createWorkers) and the real API (createApp) on loopback, against the
 * bench's dev server, all in the bench's process (so their RSS is one figure). Worker and API each
 * get their own Kysely view that counts the statements it issues. On PostgreSQL the bench runs the
 * production entries as child processes instead (./process-stack).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { createApp } from '../src/api/app';
import { createLiveHub } from '../src/api/live/hub';
import { watchedRowCache } from '../src/batches/row-cache';
import { createBatches } from '../src/batches';
import { DEFAULT_RETRY } from '../src/config';
import { samplePeaks } from './measure';
import { openDb, type Db } from '../src/db/connect';
import { ensureTenant, putKey } from '../src/db/keys';
import { migrateToLatest } from '../src/db/migrate';
import type { DevServer } from '../src/temporal/dev-server';
import { createWorkers } from '../src/temporal/worker';

/** Counts every statement compiled for execution through a Kysely instance (BEGIN/COMMIT are not statements here). */
export class StatementCounter implements KyselyPlugin {
  count = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.count++;
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

/** Per scenario: peak RSS and SQL statements, by process ('API', 'worker', or 'API+worker' in one process). */
export interface Usage {
  rss: Record<string, number>;
  statements: Record<string, number>;
  /** How the peak was read: VmHWM (reset before the scenario) or sampled RSS. */
  peakFrom: string;
}

export interface BenchStack {
  mode: 'processes' | 'in-process' | 'embedded';
  key: string;
  client: Client;
  /** The database without statement counting, for the bench's own checks; none when PGlite is another process's (embedded). */
  db?: Db['db'];
  api(path: string, init?: RequestInit): Promise<Response>;
  /** Where the API listens: a reader in a process of its own (bench/reader.ts) calls it there. */
  baseUrl: string;
  /** Starts measuring; stop() answers what the stack used since. */
  measure(): Promise<{ stop(): Promise<Usage> }>;
  /** Process mode: stops the worker alone (SIGTERM), leaving the API up. */
  stopWorker?(): Promise<void>;
  stop(): Promise<void>;
}

/** Limits the bench never reaches (the contract's defaults would stop repeated 50k submits). */
export const LIMITS = { max_active_batches: 1_000, submissions: 100_000, reads: 10_000_000, exports: 1_000 };

export interface BenchDb extends Db {
  /** PostgreSQL only: DATABASE_URL with its search_path on the bench's schema, for the child processes. */
  schemaUrl?: string;
}

/**
 * The bench's database, opened and migrated once for all scenarios (PGlite takes tens of seconds
 * to start on a loaded machine): its own schema on PostgreSQL, dropped on close; else in-memory PGlite.
 */
/** Requests to the API under test with the bench's key; a body is JSON. */
export const keyedFetch =
  (baseUrl: string, key: string) =>
  (p: string, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    headers.set('x-api-key', key);
    if (init.body !== undefined) headers.set('content-type', 'application/json');
    return fetch(`${baseUrl}${p}`, { ...init, headers });
  };

export async function openBenchDb(): Promise<BenchDb> {
  const url = process.env.DATABASE_URL;
  const schema = url ? `bench_${randomBytes(5).toString('hex')}` : undefined;
  const db = await openDb(url ? { url, schema, poolSize: 10 } : { pgliteDir: 'memory://' });
  await migrateToLatest(db.db, schema);
  return {
    ...db,
    // node-postgres reads `options` from the connection string; the config has no schema setting.
    schemaUrl:
      url && schema ? `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}` : undefined,
    close: async () => {
      await db.close();
      if (!url || !schema) return;
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`drop schema if exists ${schema} cascade`);
      await admin.end();
    },
  };
}

/**
 * A tenant, workers and an API over `db`. `withWorkers: false`: an API with no worker behind it,
 * for submit timings (batches start and wait).
 */
export async function startBenchStack(
  server: DevServer,
  bundle: WorkflowBundleWithSourceMap,
  db: Db,
  publishUrl?: string,
  withWorkers = true,
): Promise<BenchStack> {
  const workerStatements = new StatementCounter();
  const apiStatements = new StatementCounter();

  const tenantId = `tenant_${randomBytes(5).toString('hex')}`;
  const key = `bf_bench_${randomBytes(16).toString('hex')}`;
  await ensureTenant(db.db, tenantId);
  await putKey(db.db, `key_${tenantId}`, tenantId, key, 'bench', LIMITS);

  const taskQueue = `bench-${randomBytes(6).toString('hex')}`;
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  const blobDir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-bench-blobs-'));
  const workers: Worker[] = !withWorkers
    ? []
    : await createWorkers({
        connection: nativeConnection,
        namespace: server.namespace,
        taskQueue,
        db: db.db.withPlugin(workerStatements),
        publishUrl,
        workflowBundle: bundle,
        blobDir,
      });
  const running = Promise.all(workers.map((w) => w.run()));

  const log = pino({ level: 'silent' });
  const apiDb = db.db.withPlugin(apiStatements);
  // As the API keeps them: rows for progress reads, dropped by the database's change notifications.
  const watched = await watchedRowCache(db.listen);
  const batches = createBatches({
    db: apiDb,
    client,
    log,
    rows: watched.rows,
    taskQueue,
    namespace: server.namespace,
    uiUrl: 'http://localhost:8233',
    retry: DEFAULT_RETRY,
  });
  const live = createLiveHub({ batches, log });
  const app = createApp({ db: apiDb, client, batches, log, maxBodyBytes: 64 * 1024 * 1024, live });
  const http: Server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => http.once('listening', resolve));
  const baseUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

  return {
    mode: 'in-process',
    key,
    client,
    db: db.db,
    baseUrl,
    api: keyedFetch(baseUrl, key),
    measure: async () => {
      const [api0, worker0] = [apiStatements.count, workerStatements.count];
      const rss = samplePeaks({ 'API+worker': () => process.memoryUsage.rss() });
      return {
        stop: async () => ({
          rss: rss.stop(),
          statements: { API: apiStatements.count - api0, worker: workerStatements.count - worker0 },
          peakFrom: 'RSS of the bench process sampled every 100 ms',
        }),
      };
    },
    stop: async () => {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      // The progress pollers of batches read last would otherwise query a closed connection.
      batches.close();
      await watched.close();
      for (const w of workers) w.shutdown();
      await running;
      await connection.close();
      await nativeConnection.close();
      fs.rmSync(blobDir, { recursive: true, force: true });
    },
  };
}
