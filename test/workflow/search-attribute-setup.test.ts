/**
 * An existing Temporal that has never heard of batchflow's custom search attributes: bare dev
 * servers of this file's own, started with the CLI and no `--search-attribute`. Without the
 * attributes Temporal refuses every workflow start.
 *
 * - Registration allowed (the default): the real worker process (`src/main/worker.ts`) adds them
 *   at start, a second start finds them there, and the first submit is accepted and completes.
 * - Registration disabled (TEMPORAL_REGISTER_SEARCH_ATTRIBUTES=false, as on Temporal Cloud): the
 *   real `npm run migrate` names what is missing and the command; GET /readyz says the same without
 *   any raw error; a submit answers the contract's 503 naming the cause and leaves nothing; the
 *   command, run as given, fixes it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { sql } from 'kysely';
import { resolveTemporalCli } from '../../src/temporal/cli';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { checkSearchAttributes } from '../../src/temporal/search-attribute-setup';
import { ALL_SEARCH_ATTRIBUTES } from '../../src/temporal/search-attributes';
import { schemaDb } from '../helpers/db';
import { uniqueTaskQueue } from '../helpers/temporal';
import { items, startStack, waitForBatch } from '../helpers/stack';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const ALL_NAMES = ALL_SEARCH_ATTRIBUTES.map((a) => a.name);
const exec = promisify(execFile);

let allowed: DevServer;
let disabled: DevServer;
const dirs: string[] = [];
const tmpDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-sa-'));
  dirs.push(dir);
  return dir;
};
const schemas: Array<{ close(): Promise<void> }> = [];

/**
 * The database of a case's processes: on PostgreSQL (DATABASE_URL, as CI runs) a migrated schema
 * of their own (`npm run migrate` then finds it up to date: these cases are about its search
 * attribute check); otherwise the embedded PGlite in their data dir, which `npm run migrate`
 * creates and migrates (an initdb: seconds of CPU). Either way, not the suite's.
 */
async function childDatabase(): Promise<NodeJS.ProcessEnv> {
  if (!process.env.DATABASE_URL) return {};
  const db = await schemaDb(process.env.DATABASE_URL, 'sa', 1);
  schemas.push(db);
  return { DATABASE_URL: db.url };
}

before(async () => {
  [allowed, disabled] = await Promise.all([startDevServer({ searchAttributes: false }), startDevServer({ searchAttributes: false })]);
});
after(async () => {
  await Promise.all([allowed?.stop(), disabled?.stop()]);
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  for (const schema of schemas) await schema.close();
});

async function missingOn(server: DevServer): Promise<string[]> {
  const connection = await Connection.connect({ address: server.address });
  try {
    return (await checkSearchAttributes(connection.operatorService, server.namespace)).missing.map((a) => a.name);
  } finally {
    await connection.close();
  }
}

/** Only what the case is about: the Temporal to use, a data dir of its own, no DATABASE_URL but what `extra` gives (childDatabase()). */
function envFor(server: DevServer | undefined, dataDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BATCHFLOW_DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    WORKER_METRICS_PORT: '0',
    TEMPORAL_CORE_METRICS: 'off',
    // The suite's prebuilt bundle (test/run.ts), as the image passes one: the workers here are
    // about search attributes, and bundling would cost each start seconds of CPU.
    ...(process.env.TEST_WORKFLOW_BUNDLE ? { WORKFLOW_BUNDLE_PATH: process.env.TEST_WORKFLOW_BUNDLE } : {}),
  };
  delete env.DATABASE_URL;
  delete env.TEMPORAL_ADDRESS;
  delete env.TEMPORAL_NAMESPACE;
  delete env.TEMPORAL_REGISTER_SEARCH_ATTRIBUTES;
  if (server) Object.assign(env, { TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: server.namespace });
  return { ...env, ...extra };
}

/** `npm run migrate`, as a process, loaded as docker-compose runs it (node --require tsx/cjs). */
async function migrate(env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return exec(process.execPath, ['--require', 'tsx/cjs', 'src/main/migrate.ts'], { cwd: REPO_ROOT, env, timeout: 120_000 });
}

/** `npm run worker`, as a process, until its log says it runs; then SIGTERM. Returns its log. */
async function workerStartLog(env: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'src/main/worker.ts'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker did not start in time:\n${log}`)), 180_000);
      const onData = (chunk: Buffer): void => {
        log += chunk.toString('utf8');
        if (log.includes('"msg":"worker running')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`worker exited (${code}) before it ran:\n${log}`));
      });
    });
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  return log;
}

test(
  'registration allowed: the worker adds the missing search attributes at start, and the first submit is accepted and completes',
  { timeout: 600_000 },
  async () => {
    assert.deepEqual(await missingOn(allowed), ALL_NAMES, 'a bare server');

    // The worker process as the image runs it, on a migrated database of its own.
    const dataDir = tmpDir();
    const database = await childDatabase();
    await migrate(envFor(undefined, dataDir, database));
    const env = envFor(allowed, dataDir, { ...database, TEMPORAL_TASK_QUEUE: uniqueTaskQueue() });
    const first = await workerStartLog(env);
    assert.match(
      first,
      new RegExp(`registered batchflow's search attributes on Temporal namespace ${allowed.namespace}: ${ALL_NAMES.join(', ')}`),
      first,
    );
    assert.deepEqual(await missingOn(allowed), []);
    // Idempotent: the next start finds them and changes nothing.
    const second = await workerStartLog(env);
    assert.match(second, /has batchflow's search attributes/, second);
    assert.doesNotMatch(second, /registered batchflow's search attributes/);

    const stack = await startStack({ temporal: { address: allowed.address, namespace: allowed.namespace } });
    try {
      const ready = await fetch(`${stack.baseUrl}/readyz`);
      assert.equal(ready.status, 200);
      const res = await stack.api('/v1/batches', { method: 'POST', body: JSON.stringify({ items: items(5), stages: ['classify'] }) });
      assert.equal(res.status, 202, await res.clone().text());
      const { batch_id } = (await res.json()) as { batch_id: string };
      const done = await waitForBatch(stack, batch_id);
      assert.equal(done.status, 'completed');
    } finally {
      await stack.stop();
    }
  },
);

test(
  'registration disabled: migrate, /readyz and the 503 name the missing attributes and the command, which fixes it',
  { timeout: 600_000 },
  async () => {
    assert.deepEqual(await missingOn(disabled), ALL_NAMES, 'a bare server');
    const expectedFix =
      `temporal operator search-attribute create --address ${disabled.address} --namespace ${disabled.namespace}` +
      ' --name TenantId --type Keyword --name BatchStatus --type Keyword --name ItemCount --type Int --name FailedCount --type Int --name Priority --type Keyword';

    const { stderr } = await migrate(
      envFor(disabled, tmpDir(), { ...(await childDatabase()), TEMPORAL_REGISTER_SEARCH_ATTRIBUTES: 'false' }),
    );
    assert.ok(stderr.includes(`lacks batchflow's search attributes ${ALL_NAMES.join(', ')}`), stderr);
    assert.ok(stderr.includes('TEMPORAL_REGISTER_SEARCH_ATTRIBUTES=false'), stderr);
    assert.ok(stderr.includes(`Fix: ${expectedFix}`), stderr);
    assert.deepEqual(await missingOn(disabled), ALL_NAMES, 'nothing registered');

    const stack = await startStack({ temporal: { address: disabled.address, namespace: disabled.namespace } });
    try {
      const ready = await fetch(`${stack.baseUrl}/readyz`);
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), {
        status: 'unavailable',
        namespace: disabled.namespace,
        checks: { database: 'ok', temporal: `missing search attributes: ${ALL_NAMES.join(', ')}` },
        fix: expectedFix,
      });

      const refused = await stack.api('/v1/batches', { method: 'POST', body: JSON.stringify({ items: items(3), stages: ['classify'] }) });
      assert.equal(refused.status, 503);
      const { error } = (await refused.json()) as { error: { code: string; message: string } };
      assert.equal(error.code, 'unavailable');
      assert.match(
        error.message,
        /lacks the search attributes batchflow needs \(TenantId, BatchStatus, ItemCount, FailedCount, Priority\)/,
        error.message,
      );
      assert.match(error.message, /temporal operator search-attribute create --namespace default --name TenantId/);
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from batches`.execute(stack.db.db);
      assert.equal(rows[0]!.n, 0, 'the request had no effect');

      // The command, exactly as /readyz gave it, with the CLI the project uses.
      const cli = await resolveTemporalCli();
      // The suite's dev server runs the same binary (without a Go toolchain the SDK downloads one: no CLI to run).
      if (cli.type !== 'existing-path') throw new Error('this case needs the Temporal CLI (npm run temporal:cli)');
      await exec('sh', ['-c', expectedFix.replace(/^temporal /, `'${cli.path}' `)], { timeout: 60_000 });
      assert.deepEqual(await missingOn(disabled), []);
      const readyNow = await fetch(`${stack.baseUrl}/readyz`);
      assert.equal(readyNow.status, 200);
      const accepted = await stack.api('/v1/batches', { method: 'POST', body: JSON.stringify({ items: items(3), stages: ['classify'] }) });
      assert.equal(accepted.status, 202, await accepted.clone().text());
      const done = await waitForBatch(stack, ((await accepted.json()) as { batch_id: string }).batch_id);
      assert.equal(done.status, 'completed');
    } finally {
      await stack.stop();
    }
  },
);
