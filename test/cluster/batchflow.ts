/**
 * batchflow on a Temporal, as production runs it: a database of its own migrated by `npm run
 * migrate`, API processes on their own ports sharing it (and so the rate-limit state), and worker
 * processes, all on the shipped defaults: the default task queue, the stage retry policies, the
 * limits. Only the addresses differ (loopback), and the publish target is a recording one.
 */
import { spawn } from 'node:child_process';
import pg from 'pg';
import { openDb, type Db } from '../../src/db/connect';
import { freePort, processEnv, REPO_ROOT, startChild, tempDataDir, type Child, type Watch } from '../helpers/faults';

export interface Batchflow extends Watch {
  db: Db;
  databaseUrl: string;
  /** What `npm run migrate` printed. */
  migrateOutput: string;
  apis: Child[];
  workers: Child[];
  baseUrls(): string[];
  startWorker(name: string): Promise<Child>;
  close(): Promise<void>;
}

/** Drops and creates `database` on the PostgreSQL at `adminUrl`. */
async function freshDatabase(adminUrl: string, database: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${pg.escapeIdentifier(database)} with (force)`);
    await admin.query(`create database ${pg.escapeIdentifier(database)}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Migrating a new database and checking the search attributes takes seconds; past this it is stuck. */
const MIGRATE_DEADLINE_MS = 120_000;

/** `npm run migrate` with `env`; resolves with its output, rejects when it fails. */
function migrate(env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '-s', 'migrate'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: MIGRATE_DEADLINE_MS,
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`npm run migrate failed (${code}):\n${out}`))));
  });
}

export async function startBatchflow(opts: {
  adminUrl: string;
  database: string;
  temporal: { address: string; namespace: string };
  publishUrl: string;
  apis: number;
  workers: number;
}): Promise<Batchflow> {
  const databaseUrl = await freshDatabase(opts.adminUrl, opts.database);
  const data = tempDataDir();
  const env = processEnv(
    {
      databaseUrl,
      temporal: opts.temporal,
      taskQueue: 'batchflow', // the shipped default (TEMPORAL_TASK_QUEUE)
      dataDir: data.dir,
      publishUrl: opts.publishUrl,
    },
    {
      // The fault suite's quick stage retries are a tuning; here every stage runs on its defaults.
      STAGE_RETRY_JSON: '',
      // The prebuilt workflow bundle, as the image's workers load it (test/run.ts builds it).
      ...(process.env.TEST_WORKFLOW_BUNDLE ? { WORKFLOW_BUNDLE_PATH: process.env.TEST_WORKFLOW_BUNDLE } : {}),
    },
  );
  const migrateOutput = await migrate(env);
  const db = await openDb({ url: databaseUrl, poolSize: 3 });
  const apis: Child[] = [];
  const workers: Child[] = [];
  const all = (): Child[] => [...apis, ...workers];
  const handle = {
    db,
    databaseUrl,
    migrateOutput,
    apis,
    workers,
    baseUrls: () => apis.map((a) => `http://127.0.0.1:${a.port}`),
    startWorker: async (name: string) => {
      const worker = await startChild(name, 'worker', env);
      workers.push(worker);
      return worker;
    },
    output: () =>
      all()
        .map((c) => c.output())
        .join('\n'),
    crashed: () =>
      all()
        .map((c) => c.crashed())
        .find(Boolean),
    close: async () => {
      await Promise.all(all().map((c) => c.stop()));
      await db.close().catch(() => {});
      data.remove();
    },
  };
  try {
    for (let i = 0; i < opts.apis; i++) apis.push(await startChild(`api-${i + 1}`, 'api', { ...env, PORT: String(await freePort()) }));
    await Promise.all(Array.from({ length: opts.workers }, (_, i) => handle.startWorker(`worker-${i + 1}`)));
  } catch (err) {
    await handle.close();
    throw err;
  }
  return handle;
}
