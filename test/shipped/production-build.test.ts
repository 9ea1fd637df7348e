/**
 * The production path as the image runs it, without Docker: `npm run build` (tsc to dist/ and the
 * prebuilt workflow bundle), a production install (`npm ci --omit=dev`) in a directory of its own
 * laid out as the image is, and there `node dist/src/main/migrate.js`, `worker.js` and `api.js`
 * with node alone (no tsx, no TypeScript) against the suite's dev server and PostgreSQL. A batch
 * runs to completion; the install holds none of the development packages.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { schemaDb } from '../helpers/db';
import { processEnv, REPO_ROOT, sharedPostgresUrl, startChild, tempDataDir, type Child, type SchemaDb } from '../helpers/faults';
import { startPublishTarget, type PublishTarget } from '../helpers/publish-target';
import { temporalAddress } from '../helpers/temporal';
import { items } from '../helpers/stack';

/** The worker polls once it has started; Temporal lists it within a few seconds. */
async function eventuallyHealthy(check: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 30_000; !check(); await new Promise((r) => setTimeout(r, 1_000)))
    assert.ok(Date.now() < deadline, 'the worker health check passes within 30 s');
}

/** Each step (the build, the install, a command) stops the test rather than hang it. */
const STEP_TIMEOUT_MS = 240_000;

/** What only `npm start`, the tests and the build use: a production install must not hold them. */
const DEV_ONLY = ['tsx', 'typescript', '@electric-sql/pglite', 'kysely-pglite-dialect', '@temporalio/testing'];
/** Not ours to list: no code of ours imports protobufjs, and only a test reads Parquet (both still come in under packages that need them). */
const NOT_DEPENDENCIES = ['protobufjs', 'hyparquet', ...DEV_ONLY];

let prod: string;
let db: SchemaDb;
let target: PublishTarget;
let data: { dir: string; remove(): void };
const children: Child[] = [];

before(async () => {
  execFileSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: 'pipe', timeout: STEP_TIMEOUT_MS });
  prod = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-prod-'));
  for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(REPO_ROOT, f), path.join(prod, f));
  execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: prod, stdio: 'pipe', timeout: STEP_TIMEOUT_MS });
  // As the Dockerfile's deps stage does: the Core bridge for this architecture only.
  execFileSync('sh', [path.join(REPO_ROOT, 'docker', 'prune-core-bridge.sh')], { cwd: prod, stdio: 'pipe', timeout: STEP_TIMEOUT_MS });
  fs.cpSync(path.join(REPO_ROOT, 'dist'), path.join(prod, 'dist'), { recursive: true });
  db = await schemaDb(await sharedPostgresUrl(), 'prod', 3);
  target = await startPublishTarget();
  data = tempDataDir();
});

after(async () => {
  await Promise.all(children.map((c) => c.stop()));
  await target?.close();
  await db?.close().catch(() => undefined);
  data?.remove();
  if (prod) fs.rmSync(prod, { recursive: true, force: true });
});

test('the production install holds no development package', (t) => {
  const present = DEV_ONLY.filter((p) => fs.existsSync(path.join(prod, 'node_modules', p)));
  assert.deepEqual(present, []);
  const { dependencies } = JSON.parse(fs.readFileSync(path.join(prod, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.deepEqual(
    NOT_DEPENDENCIES.filter((p) => p in dependencies),
    [],
  );
  const bytes = Number(
    execFileSync('du', ['-sb', path.join(prod, 'node_modules')])
      .toString()
      .split('\t')[0],
  );
  t.diagnostic(
    `production node_modules: ${(bytes / 1024 / 1024).toFixed(0)} MiB; dist/: ${
      execFileSync('du', ['-sh', path.join(prod, 'dist')])
        .toString()
        .split('\t')[0]
    }`,
  );
});

test('node dist/src/main/{migrate,worker,api}.js run a batch to completion on PostgreSQL', { timeout: 300_000 }, async (t) => {
  const env = processEnv({
    databaseUrl: db.url,
    temporal: await temporalAddress(),
    taskQueue: `prod-${randomBytes(6).toString('hex')}`,
    dataDir: data.dir,
    publishUrl: target.url,
  });
  // The shipped stage retries, and nothing that would load TypeScript.
  delete env.STAGE_RETRY_JSON;
  delete env.NODE_OPTIONS;
  const migrated = execFileSync(process.execPath, ['dist/src/main/migrate.js'], {
    cwd: prod,
    env,
    stdio: 'pipe',
    timeout: STEP_TIMEOUT_MS,
  }).toString();
  t.diagnostic(`migrate: ${migrated.trim().split('\n').at(-1) ?? ''}`);

  const worker = await startChild('worker', 'worker', env, prod);
  children.push(worker);
  // It loaded the bundle `npm run build` made, rather than bundling at start.
  assert.match(worker.output(), new RegExp(`"workflowBundle":"${path.join(prod, 'dist', 'workflow-bundle.js').replace(/[.]/g, '\\.')}"`));
  // The compose worker's health check: healthy while Temporal lists this worker's identity
  // (WORKER_IDENTITY, set by startChild) among the queue's pollers.
  const health = (identity: string): number => {
    try {
      execFileSync(process.execPath, ['dist/src/main/worker-health.js'], {
        cwd: prod,
        env: { ...env, WORKER_IDENTITY: identity },
        stdio: 'pipe',
        timeout: 30_000,
      });
      return 0;
    } catch (err) {
      return (err as { status: number }).status;
    }
  };
  await eventuallyHealthy(() => health(worker.identity) === 0);
  assert.equal(health(`not-${worker.identity}`), 1, 'a worker that does not poll is unhealthy');
  const api = await startChild('api', 'api', env, prod);
  children.push(api);
  const base = `http://127.0.0.1:${api.port}`;
  const headers = { 'x-api-key': env.BATCHFLOW_DEV_API_KEY!, 'content-type': 'application/json' };

  const ready = (await (await fetch(`${base}/readyz`)).json()) as { status: string };
  assert.equal(ready.status, 'ready');
  const res = await fetch(`${base}/v1/batches`, { method: 'POST', headers, body: JSON.stringify({ items: items(50) }) });
  assert.equal(res.status, 202, await res.clone().text());
  const { batch_id: batchId } = (await res.json()) as { batch_id: string };
  let body: { status: string; counts: Record<string, number> } = { status: 'submitted', counts: {} };
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
    body = (await (await fetch(`${base}/v1/batches/${batchId}`, { headers })).json()) as typeof body;
    if (!['queued', 'running'].includes(body.status)) break;
  }
  assert.equal(body.status, 'completed', `${JSON.stringify(body)}\n${worker.output()}`);
  assert.equal(body.counts.published, 50);
  assert.equal(new Set([...target.items.values()].map((i) => i.ref)).size, 50, 'the target holds each ref once');
  // The console's files were copied beside the compiled code.
  assert.equal((await fetch(`${base}/`)).status, 200);
  // The Parquet export: compiled CommonJS requiring the ESM-only hyparquet-writer (Node >= 20.19).
  const parquet = await fetch(`${base}/v1/batches/${batchId}/export?format=parquet`, { headers });
  assert.equal(parquet.status, 200);
  assert.equal(
    Buffer.from(await parquet.arrayBuffer())
      .subarray(0, 4)
      .toString(),
    'PAR1',
  );
});
