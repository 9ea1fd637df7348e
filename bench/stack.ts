/**
 * One batchflow stack per scenario, in this process: a fresh migrated database (its own schema on
 * PostgreSQL, else in-memory PGlite), the real workers (createWorkers) and the real API (createApp)
 * on loopback, against the bench's dev server. Worker and API each get their own Kysely view that
 * counts the statements it issues.
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
import { createBatchService } from '../src/batches/service';
import { DEFAULT_RETRY } from '../src/config';
import { openDb, type Db } from '../src/db/connect';
import { ensureTenant, putKey } from '../src/db/keys';
import { migrateToLatest } from '../src/db/migrate';
import type { DevServer } from '../src/temporal/dev-server';
import { createWorkers } from '../src/worker/create-worker';

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

export interface BenchStack {
  baseUrl: string;
  key: string;
  client: Client;
  dbKind: Db['kind'];
  workerStatements: StatementCounter;
  apiStatements: StatementCounter;
  api(path: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

/** Limits the bench never reaches (the contract's defaults would stop repeated 50k submits). */
const LIMITS = { max_active_batches: 1_000, submissions: 100_000, reads: 10_000_000, exports: 1_000 };

export async function startBenchStack(server: DevServer, bundle: WorkflowBundleWithSourceMap, publishUrl?: string): Promise<BenchStack> {
  const url = process.env.DATABASE_URL;
  const schema = url ? `bench_${randomBytes(5).toString('hex')}` : undefined;
  const db = await openDb(url ? { url, schema, poolSize: 10 } : { pgliteDir: 'memory://' });
  await migrateToLatest(db.db, schema);
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
  const workers: Worker[] = await createWorkers({
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
  const batches = createBatchService({ db: apiDb, client, log, taskQueue, namespace: server.namespace, uiUrl: 'http://localhost:8233', retry: DEFAULT_RETRY });
  const live = createLiveHub({ batches, db: apiDb, log });
  const app = createApp({ db: apiDb, client, batches, log, maxBodyBytes: 64 * 1024 * 1024, live });
  const http: Server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => http.once('listening', resolve));
  const baseUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

  return {
    baseUrl,
    key,
    client,
    dbKind: db.kind,
    workerStatements,
    apiStatements,
    api: (p, init = {}) => {
      const headers = new Headers(init.headers);
      headers.set('x-api-key', key);
      if (init.body !== undefined) headers.set('content-type', 'application/json');
      return fetch(`${baseUrl}${p}`, { ...init, headers });
    },
    stop: async () => {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      for (const w of workers) w.shutdown();
      await running;
      await connection.close();
      await nativeConnection.close();
      await db.close();
      if (url && schema) {
        const admin = new pg.Client({ connectionString: url });
        await admin.connect();
        await admin.query(`drop schema if exists ${schema} cascade`);
        await admin.end();
      }
      fs.rmSync(blobDir, { recursive: true, force: true });
    },
  };
}
