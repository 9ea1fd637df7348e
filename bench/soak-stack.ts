/**
 * The soak's stack, the way production runs it: its own Temporal dev server, a fresh database
 * (a schema of its own on PostgreSQL, else PGlite files in a temp dir), a loopback publish target,
 * and batchflow as child processes configured by the environment only. On PostgreSQL the API
 * (src/main/api.ts) and the worker (src/main/worker.ts) are two processes, so each one's memory,
 * descriptors and connections are measured apart. PGlite serves one process, so there the stack
 * is src/main/start.ts (what `npm start` runs), API and worker in one process.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { openDb } from '../src/db/connect';
import { createKey } from '../src/db/keys';
import { migrateToLatest } from '../src/db/migrate';
import { startDevServer, type DevServer } from '../src/temporal/dev-server';
import { startSoakTarget, type SoakTarget } from './soak-target';
import { freePort } from '../src/net/free-port';
import { spawnEntry, type EntryProcess } from './child';

/** Limits the soak never reaches: it measures the service, not the limiter (docs/keys-and-limits.md). */
const SOAK_LIMITS = { max_active_batches: 10_000, submissions: 10_000_000, reads: 1_000_000_000, exports: 10_000_000 };
/** A child compiles TypeScript, trains the classifier and bundles the workflows: slow on a busy 2-core machine. */
const START_DEADLINE_MS = 240_000;
/** Lines of a child's output kept for the report when something goes wrong. */
const TAIL_LINES = 200;

export interface SoakProcess {
  name: string;
  pid: number;
  /** Its /metrics (heap, RSS as Node sees it). */
  metricsUrl: string;
  tail(): string;
  exited(): boolean;
}

export interface SoakStack {
  baseUrl: string;
  key: string;
  dbKind: 'postgres' | 'pglite';
  processes: SoakProcess[];
  target: SoakTarget;
  /** application_name prefix of the stack's PostgreSQL connections (pg_stat_activity). */
  pgApplication?: string;
  /** PostgreSQL only: a pool on the soak's schema, for sampling and for the final check. */
  admin?: pg.Pool;
  /** A query on the stack's database. PGlite is one process's: there it works only after stopProcesses(). */
  query<R>(text: string): Promise<R[]>;
  /** Stops the API and worker (SIGTERM, their graceful shutdown). */
  stopProcesses(): Promise<void>;
  /** Stops everything else and drops the soak's schema and files. */
  teardown(): Promise<void>;
}

/** node-postgres reads `options` and `application_name` from the connection string. */
function withParams(url: string, params: Record<string, string>): string {
  const query = Object.entries(params)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('&');
  return `${url}${url.includes('?') ? '&' : '?'}${query}`;
}

type Child = EntryProcess;

function spawnChild(name: string, entry: string, env: NodeJS.ProcessEnv): Child {
  return spawnEntry(name, entry, env, TAIL_LINES);
}

async function waitHealthy(url: string, child: Child, what: string): Promise<void> {
  const deadline = Date.now() + START_DEADLINE_MS;
  while (Date.now() < deadline) {
    if (child.child.exitCode !== null) throw new Error(`${what} exited (${child.child.exitCode}) during start:\n${child.lines.join('\n')}`);
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what}: ${url} not healthy after ${START_DEADLINE_MS} ms:\n${child.lines.join('\n')}`);
}

/** SIGTERM (graceful shutdown), SIGKILL after 30 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

const asProcess = (name: string, c: Child, metricsUrl: string): SoakProcess => ({
  name,
  pid: c.child.pid!,
  metricsUrl,
  tail: () => c.lines.join('\n'),
  exited: () => c.child.exitCode !== null || c.child.signalCode !== null,
});

export async function startSoakStack(log: (line: string) => void): Promise<SoakStack> {
  const databaseUrl = process.env.DATABASE_URL;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-soak-'));
  // Stopped in reverse order: the children first (stopProcesses), then what they used (teardown).
  const infra: Array<() => Promise<void>> = [];
  const children: Child[] = [];
  const stopProcesses = async (): Promise<void> => {
    await Promise.all(children.map((c) => stopChild(c.child)));
  };
  const teardown = async (): Promise<void> => {
    await stopProcesses();
    for (const stop of infra.reverse()) await stop().catch((err: unknown) => log(`while stopping: ${String(err)}`));
    infra.length = 0;
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const server: DevServer = await startDevServer({ log });
    infra.push(() => server.stop());
    const target = await startSoakTarget();
    infra.push(() => target.close());

    // A fresh database with the soak's key; the children only ever see the environment.
    const suffix = randomBytes(5).toString('hex');
    const schema = databaseUrl ? `soak_${suffix}` : undefined;
    const pgliteDir = path.join(dataDir, 'pglite');
    const setup = await openDb(databaseUrl ? { url: databaseUrl, schema, poolSize: 2 } : { pgliteDir });
    await migrateToLatest(setup.db, schema);
    const { key } = await createKey(setup.db, { tenantId: `soak_${suffix}`, label: 'soak', limits: SOAK_LIMITS });
    await setup.close();

    const port = await freePort();
    const common: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: server.namespace,
      TEMPORAL_TASK_QUEUE: `soak-${suffix}`,
      BATCHFLOW_DATA_DIR: dataDir,
      PUBLISH_URL: target.url,
      PORT: String(port),
      // info would log every request; start-up failures still show at warn and error.
      LOG_LEVEL: 'warn',
    };
    delete common.NODE_TEST_CONTEXT;
    const baseUrl = `http://127.0.0.1:${port}`;
    const processes: SoakProcess[] = [];
    let admin: pg.Pool | undefined;
    let pgApplication: string | undefined;

    if (databaseUrl && schema) {
      pgApplication = `soak_${suffix}`;
      const url = (role: string): string =>
        withParams(databaseUrl, { options: `-c search_path=${schema}`, application_name: `${pgApplication}_${role}` });
      const pool = new pg.Pool({
        connectionString: withParams(databaseUrl, { options: `-c search_path=${schema}`, application_name: `soakadmin_${suffix}` }),
        max: 2,
      });
      pool.on('error', () => undefined);
      admin = pool;
      infra.push(async () => {
        await pool.end();
        const drop = new pg.Client({ connectionString: databaseUrl });
        await drop.connect();
        await drop.query(`drop schema if exists ${schema} cascade`);
        await drop.end();
      });
      const workerMetricsPort = await freePort();
      const worker = spawnChild('worker', 'src/main/worker.ts', {
        ...common,
        DATABASE_URL: url('worker'),
        WORKER_METRICS_PORT: String(workerMetricsPort),
        WORKER_METRICS_HOST: '127.0.0.1',
      });
      const api = spawnChild('api', 'src/main/api.ts', { ...common, DATABASE_URL: url('api') });
      children.push(api, worker);
      const workerMetrics = `http://127.0.0.1:${workerMetricsPort}/metrics`;
      await Promise.all([waitHealthy(`${baseUrl}/healthz`, api, 'the API'), waitHealthy(workerMetrics, worker, 'the worker')]);
      processes.push(asProcess('api', api, `${baseUrl}/metrics`), asProcess('worker', worker, workerMetrics));
    } else {
      const stack = spawnChild('stack', 'src/main/start.ts', common);
      children.push(stack);
      await waitHealthy(`${baseUrl}/healthz`, stack, 'the stack');
      processes.push(asProcess('stack', stack, `${baseUrl}/metrics`));
    }
    log(
      `stack up: ${processes.map((p) => `${p.name} pid ${p.pid}`).join(', ')}; database ${schema ? `PostgreSQL schema ${schema}` : `PGlite in ${pgliteDir}`}`,
    );

    return {
      baseUrl,
      key,
      dbKind: databaseUrl ? 'postgres' : 'pglite',
      processes,
      target,
      pgApplication,
      admin,
      query: async <R>(text: string): Promise<R[]> => {
        if (admin) return (await admin.query(text)).rows as R[];
        if (children.some((c) => c.child.exitCode === null && c.child.signalCode === null))
          throw new Error('PGlite is open in the stack process: query after stopProcesses()');
        const db = await openDb({ pgliteDir });
        try {
          return (await sql.raw<R>(text).execute(db.db)).rows;
        } finally {
          await db.close();
        }
      },
      stopProcesses,
      teardown,
    };
  } catch (err) {
    await teardown();
    throw err;
  }
}
