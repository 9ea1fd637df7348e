/**
 * Stale work and retention, on the real Temporal dev server with the real worker: a batch queued
 * or running too long is reported stale (never failed) and the operator's command cancels it the
 * API's way; POST /v1/batches/cleanup deletes the tenant's old finished batches with their rows and
 * blobs, never a running one nor another tenant's; the worker's schedule installs idempotently and
 * its runs delete old batches of every tenant.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { BatchBody } from '../../src/batches/view';
import { reopen } from '../../src/db/batches';
import { listExpired, lockExpired } from '../../src/db/retention';
import { NEEDS_DATABASE_URL, parseStaleArgs, runStale, type StaleCommand } from '../../src/main/stale';
import { installRetentionSchedule, RETENTION_EVERY_MS, RETENTION_WORKFLOW_TYPE, retentionScheduleId } from '../../src/temporal/schedule';
import { eventually, getBatch, submit } from '../helpers/api';
import { startPublishTarget } from '../helpers/publish-target';
import { items, startStack, waitForBatch, type Stack } from '../helpers/stack';
import type { TestDb } from '../helpers/db';
import { temporalAddress } from '../helpers/temporal';

Runtime.install({ logger: new DefaultLogger((process.env.TEST_SDK_LOG_LEVEL as LogLevel | undefined) ?? 'ERROR') });

const TEST_TIMEOUT_MS = 240_000;
const REPO_ROOT = path.join(__dirname, '..', '..');
const FINISHED = ['completed', 'partial', 'failed', 'cancelled'];

const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');
const blobFile = (stack: Stack, tenant: string, ref: string, bytes: Buffer): string =>
  path.join(stack.blobDir, 'raw', tenant, sha256(ref).slice(0, 16), sha256(bytes));
// With a text the core classifier is sure of, so the batch completes rather than waiting for review.
const doc = (ref: string, bytes: Buffer) => ({
  ref,
  text: 'leather oxford shoes',
  content: bytes.toString('base64'),
  content_type: 'application/pdf',
});

/** Moves the batches' creation (and, when finished, their end) `hours` into the past. */
async function backdate(stack: Stack, ids: string[], hours: number): Promise<void> {
  const then = sql<Date>`now() - make_interval(hours => ${hours})`;
  await stack.db.db.updateTable('batches').set({ created_at: then, updated_at: then }).where('id', 'in', ids).execute();
  await stack.db.db
    .updateTable('batches')
    .set({ completed_at: then })
    .where('id', 'in', ids)
    .where('completed_at', 'is not', null)
    .execute();
}

async function listIds(stack: Stack, query: string, key?: string): Promise<string[]> {
  const res = await stack.api(`/v1/batches?${query}`, { key });
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { batches: Array<{ batch_id: string }> }).batches.map((b) => b.batch_id);
}

async function post(stack: Stack, route: string, body: unknown, key?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await stack.api(route, { method: 'POST', body: JSON.stringify(body), key });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Rows the batch has in each table that holds batch data. */
async function rowsOf(stack: Stack, batchId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of ['batches', 'batch_items', 'item_results', 'staged_items', 'staged_chunks', 'audit_events'] as const) {
    const column = table === 'batches' ? 'id' : 'batch_id';
    const { rows } = await sql<{
      n: number;
    }>`select count(*)::int as n from ${sql.table(table)} where ${sql.ref(column)} = ${batchId}`.execute(stack.db.db);
    out[table] = rows[0]!.n;
  }
  return out;
}

function command(argv: string[]): StaleCommand {
  const parsed = parseStaleArgs(argv);
  assert.notEqual(parsed, 'help');
  return parsed as StaleCommand;
}

/** Runs `npm run stale -- …` as its own process (PostgreSQL only: PGlite serves one process). */
function staleProcess(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  const childEnv = { ...env };
  // The test runner marks its own children; the command is not one of them.
  delete childEnv.NODE_TEST_CONTEXT;
  // tsx's CommonJS hook, as npm start and the image load entries: no ESM loader thread per run.
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'src/main/stale.ts', ...args], {
    cwd: REPO_ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

test(
  "stale: a batch queued or running past the age is reported, never a paused or finished one; the command cancels it the API's way",
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const target = await startPublishTarget({ latencyMs: 300 });
    const stack = await startStack({ publishUrl: target.url });
    try {
      const other = await stack.addTenant();
      const slow = { items: items(200), chunk_size: 2, max_parallel_chunks: 1 };
      const done = await submit(stack, { items: items(2), stages: ['classify'] });
      assert.equal((await waitForBatch(stack, done)).status, 'completed');
      const running = await submit(stack, slow);
      const paused = await submit(stack, slow);
      const theirs = await submit(stack, slow, other.key);
      assert.equal((await post(stack, `/v1/batches/${paused}/pause`, {})).status, 202);
      await waitForBatch(stack, running, (b) => b.status === 'running');
      await waitForBatch(stack, theirs, (b) => b.status === 'running', 60_000, other.key);

      // Fresh work is not stale, whatever its status.
      assert.deepEqual(await listIds(stack, 'stale=true'), []);
      assert.equal((await getBatch(stack, running)).stale, false);

      await backdate(stack, [done, running, paused, theirs], 3);
      assert.deepEqual(
        await listIds(stack, 'stale=true'),
        [running],
        'only the running batch is stale: paused is a deliberate hold, finished is finished',
      );
      assert.deepEqual((await listIds(stack, 'stale=false')).sort(), [done, paused].sort());
      assert.deepEqual(await listIds(stack, 'stale=true&status=running'), [running]);
      assert.deepEqual(await listIds(stack, 'stale=true&status=completed'), []);
      assert.deepEqual(await listIds(stack, 'stale=true', other.key), [theirs], 'each tenant sees its own');
      assert.equal((await getBatch(stack, running)).stale, true, 'the batch body says so');
      assert.equal((await getBatch(stack, done)).stale, false);
      assert.equal((await getBatch(stack, paused)).stale, false);
      assert.equal((await getBatch(stack, running)).status, 'running', 'stale is reported, the batch goes on');
      const bad = await stack.api('/v1/batches?stale=yes');
      assert.equal(bad.status, 400);
      assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'validation_failed');

      // The operator's list: every tenant, or one; its age threshold.
      const lines: string[] = [];
      const deps = { db: stack.db.db, batches: stack.batches, staleAfterMinutes: 120, out: (l: string) => lines.push(l) };
      assert.equal(await runStale(command(['list']), deps), 0);
      const listed = (ls: string[]) =>
        ls
          .filter((l) => l.startsWith('b_'))
          .map((l) => l.split('\t')[0]!)
          .sort();
      assert.deepEqual(listed(lines), [running, theirs].sort(), lines.join('\n'));
      lines.length = 0;
      assert.equal(await runStale(command(['list', '--tenant', stack.tenantId]), deps), 0);
      assert.deepEqual(listed(lines), [running]);
      lines.length = 0;
      assert.equal(await runStale(command(['list', '--older-than-minutes', '240']), deps), 0);
      assert.deepEqual(listed(lines), [], 'three hours is not stale at four');
      assert.throws(() => parseStaleArgs(['list', '--rollback']), /--rollback goes with cancel/);
      assert.throws(() => parseStaleArgs(['purge']), /unknown command/);

      // Cancel this tenant's stale batches: as its own process on PostgreSQL, in-process on PGlite.
      let output: string;
      const url = (stack.db as TestDb).url;
      if (url) {
        const { address, namespace } = await temporalAddress();
        const r = await staleProcess(['cancel', '--tenant', stack.tenantId], {
          ...process.env,
          DATABASE_URL: url,
          TEMPORAL_ADDRESS: address,
          TEMPORAL_NAMESPACE: namespace,
        });
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        output = r.stdout;
        t.diagnostic('stale cancel ran as its own process against PostgreSQL');
      } else {
        lines.length = 0;
        assert.equal(await runStale(command(['cancel', '--tenant', stack.tenantId]), deps), 0);
        output = lines.join('\n');
        t.diagnostic('stale cancel ran in-process (PGlite serves one process)');
      }
      assert.match(output, new RegExp(`^cancelled\\t${running}\\t`, 'm'), output);
      assert.match(output, /cancelled 1 of 1 stale batch/, output);
      assert.equal((await waitForBatch(stack, running, (b) => FINISHED.includes(b.status))).status, 'cancelled');
      assert.equal((await getBatch(stack, paused)).status, 'paused', 'the paused batch is untouched');
      assert.equal((await getBatch(stack, theirs, other.key)).status, 'running', "another tenant's is untouched");
      assert.deepEqual(await listIds(stack, 'stale=true'), []);

      for (const [id, key] of [
        [paused, undefined],
        [theirs, other.key],
      ] as const) {
        assert.equal((await post(stack, `/v1/batches/${id}/cancel`, {}, key)).status, 202);
        assert.equal((await waitForBatch(stack, id, (b) => FINISHED.includes(b.status), 120_000, key)).status, 'cancelled');
      }
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);

test('stale command: without DATABASE_URL it says it needs one, and refuses a bad command line', { timeout: 60_000 }, async () => {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  const r = await staleProcess(['list'], env);
  assert.equal(r.code, 2, r.stderr);
  assert.ok(r.stderr.includes(NEEDS_DATABASE_URL), r.stderr);
  const bad = await staleProcess(['cancel', '--older-than-minutes', 'soon'], env);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--older-than-minutes must be a number/);
});

test(
  "cleanup: deletes the tenant's old finished batches with their rows and blobs; never a running one, a recent one or another tenant's",
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const target = await startPublishTarget({ latencyMs: 300 });
    const stack = await startStack({ publishUrl: target.url });
    try {
      const other = await stack.addTenant();
      const shared = randomBytes(4 * 1024);
      const own = randomBytes(4 * 1024);
      const stages = ['classify', 'ingest'];
      const old = await submit(stack, {
        items: [doc('shared.pdf', shared), doc('own.pdf', own), { ref: 'note', text: 'leather oxford shoes' }],
        stages,
      });
      const recent = await submit(stack, { items: [doc('shared.pdf', shared)], stages });
      const theirs = await submit(stack, { items: [doc('own.pdf', own)], stages }, other.key);
      for (const [id, key] of [
        [old, undefined],
        [recent, undefined],
        [theirs, other.key],
      ] as const) {
        assert.equal((await waitForBatch(stack, id, undefined, 120_000, key)).status, 'completed');
      }
      const running = await submit(stack, { items: items(200), chunk_size: 2, max_parallel_chunks: 1 });
      await waitForBatch(stack, running, (b) => b.status === 'running');

      const before = await rowsOf(stack, old);
      for (const table of Object.keys(before)) assert.ok(before[table]! > 0, `the old batch has ${table} rows`);
      const sharedBlob = blobFile(stack, stack.tenantId, 'shared.pdf', shared);
      const ownBlob = blobFile(stack, stack.tenantId, 'own.pdf', own);
      const theirBlob = blobFile(stack, other.tenantId, 'own.pdf', own);
      for (const f of [sharedBlob, ownBlob, theirBlob]) assert.ok(fs.existsSync(f), f);

      await backdate(stack, [old, theirs, running], 72);

      for (const body of [{}, { older_than_days: -1 }, { older_than_days: 'one' }, { older_than_days: 1, tenant: 'x' }]) {
        const r = await post(stack, '/v1/batches/cleanup', body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal((r.body.error as { code: string }).code, 'validation_failed');
      }

      const cleanup = await post(stack, '/v1/batches/cleanup', { older_than_days: 1 });
      assert.equal(cleanup.status, 200, JSON.stringify(cleanup.body));
      assert.deepEqual(cleanup.body, { deleted: 1 });

      assert.equal((await stack.api(`/v1/batches/${old}`)).status, 404);
      assert.deepEqual(Object.values(await rowsOf(stack, old)), [0, 0, 0, 0, 0, 0], 'every row of the batch is gone');
      assert.ok(!fs.existsSync(ownBlob), 'its own blob is gone');
      assert.ok(fs.existsSync(sharedBlob), 'a blob that a kept batch still records stays');
      assert.ok(fs.existsSync(theirBlob), "another tenant's blob stays");
      assert.equal((await getBatch(stack, recent)).status, 'completed', 'a recent finished batch stays');
      assert.equal((await getBatch(stack, theirs, other.key)).status, 'completed', "another tenant's old batch stays");
      assert.equal((await getBatch(stack, running)).status, 'running', 'the running batch stays, and goes on');
      assert.deepEqual(
        (await post(stack, '/v1/batches/cleanup', { older_than_days: 1 })).body,
        { deleted: 0 },
        'a second run finds nothing',
      );

      // The other tenant's own cleanup takes its batch, and its blob.
      assert.deepEqual((await post(stack, '/v1/batches/cleanup', { older_than_days: 1 }, other.key)).body, { deleted: 1 });
      assert.equal((await stack.api(`/v1/batches/${theirs}`, { key: other.key })).status, 404);
      assert.ok(!fs.existsSync(theirBlob));

      // A batch reopened by a redrive after it was listed is not deleted: the delete re-checks under a row lock.
      await backdate(stack, [recent], 72);
      const cutoff = new Date(Date.now() - 24 * 3600_000);
      assert.deepEqual(await listExpired(stack.db.db, { before: cutoff, tenantId: stack.tenantId, limit: 10 }), [recent]);
      await reopen(stack.db.db, recent);
      assert.equal(await stack.db.db.transaction().execute((trx) => lockExpired(trx, recent, cutoff)), false);
      assert.equal((await rowsOf(stack, recent)).batches, 1);

      assert.equal((await post(stack, `/v1/batches/${running}/cancel`, {})).status, 202);
      assert.equal((await waitForBatch(stack, running)).status, 'cancelled');
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);

test(
  'schedule: installs idempotently, follows a changed retention, and its runs delete old batches of every tenant (catalog entries stay)',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const stack = await startStack();
    const scheduleId = retentionScheduleId(stack.taskQueue);
    const handle = stack.client.schedule.getHandle(scheduleId);
    try {
      // Two workers starting at once: one creates, the other finds it as it wants it.
      const first = await Promise.all(
        [1, 2].map(() => installRetentionSchedule(stack.client, { taskQueue: stack.taskQueue, retentionDays: 30 })),
      );
      assert.deepEqual(first.map((r) => r.outcome).sort(), ['created', 'unchanged'], JSON.stringify(first));
      const described = await handle.describe();
      assert.deepEqual(
        described.spec.intervals?.map((i) => i.every),
        [RETENTION_EVERY_MS],
      );
      assert.equal(described.action.workflowType, RETENTION_WORKFLOW_TYPE);
      assert.equal(described.action.taskQueue, stack.taskQueue);
      assert.deepEqual(described.action.args, [{ olderThanDays: 30 }]);

      // A worker started with another BATCH_RETENTION_DAYS brings the schedule in line.
      assert.equal((await installRetentionSchedule(stack.client, { taskQueue: stack.taskQueue, retentionDays: 2 })).outcome, 'updated');
      assert.deepEqual((await handle.describe()).action.args, [{ olderThanDays: 2 }]);
      assert.equal((await installRetentionSchedule(stack.client, { taskQueue: stack.taskQueue, retentionDays: 2 })).outcome, 'unchanged');

      // Its action, run now: old finished batches of both tenants go; their catalog entries stay.
      const other = await stack.addTenant();
      const ours = await submit(stack, { items: items(3), stages: ['classify', 'publish'] });
      const theirs = await submit(stack, { items: items(2), stages: ['classify', 'publish'] }, other.key);
      const keep = await submit(stack, { items: items(2), stages: ['classify'] });
      for (const [id, key] of [
        [ours, undefined],
        [theirs, other.key],
        [keep, undefined],
      ] as const) {
        assert.equal((await waitForBatch(stack, id, undefined, 120_000, key)).status, 'completed');
      }
      await backdate(stack, [ours, theirs], 72);
      const catalogBefore = await stack.db.db.selectFrom('catalog_items').select('id').where('batch_id', 'in', [ours, theirs]).execute();
      assert.equal(catalogBefore.length, 5);
      await handle.trigger();
      await eventually(
        'the scheduled run to delete both old batches',
        async () => {
          const left = await stack.db.db.selectFrom('batches').select('id').where('id', 'in', [ours, theirs]).execute();
          return left.length === 0;
        },
        120_000,
      );
      assert.equal((await getBatch(stack, keep)).status, 'completed', 'a recent batch stays');
      const catalogAfter = await stack.db.db.selectFrom('catalog_items').select('id').where('batch_id', 'in', [ours, theirs]).execute();
      assert.equal(catalogAfter.length, 5, 'what the batches published stays published');
      const body: BatchBody | undefined = await stack.batches.get(stack.tenantId, ours);
      assert.equal(body, undefined);
    } finally {
      await handle.delete().catch(() => undefined);
      await stack.stop();
    }
  },
);
