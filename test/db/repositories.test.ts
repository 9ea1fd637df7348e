import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import type { Db } from '../../src/db/connect';
import { insertBatch, listBatches } from '../../src/db/batches';
import { listItems } from '../../src/db/item-pages';
import { endUnfinished, writeResults } from '../../src/db/items';
import { countItems } from '../../src/db/counts';
import { ensureTenant } from '../../src/db/keys';
import { emptyCounts } from '../../src/contracts/workflow';
import type { NewItem } from '../../src/db/batches';
import { testDb } from '../helpers/db';

let db: Db;
before(async () => {
  db = await testDb();
  await ensureTenant(db.db, 'acme');
  await ensureTenant(db.db, 'other');
});
after(() => db.close());

const newItems = (n: number): NewItem[] =>
  Array.from({ length: n }, (_, i) => ({
    ref: `r${i}`,
    text: `item ${i}`,
    content: null,
    contentType: null,
    attributes: i % 2 ? { n: i } : null,
  }));

const batchRow = (id: string, tenant: string, total: number, created = new Date()) => ({
  id,
  tenant_id: tenant,
  status: 'queued' as const,
  priority: 'normal',
  options: '{}',
  metadata: '{}',
  callback_url: null,
  total_items: total,
  counts: JSON.stringify(emptyCounts(total)),
  error: null,
  idempotency_key: null,
  request_hash: null,
  workflow_id: `batch-${id}`,
  created_at: created,
});

test('50,000 items go in with a handful of statements, not one per item', async () => {
  let statements = 0;
  // Every statement passes through a plugin's transformQuery: count them there.
  const counted = db.db.withPlugin({
    transformQuery: (args) => {
      statements++;
      return args.node;
    },
    transformResult: async (args) => args.result,
  });
  await insertBatch(counted, batchRow('b_big', 'acme', 50_000), newItems(50_000));
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from batch_items where batch_id = 'b_big'`.execute(db.db);
  assert.equal(rows[0]!.n, 50_000);
  assert.ok(statements <= 12, `${statements} statements`);
});

test('items page in order with cursors; unfinished items read as pending', async () => {
  await insertBatch(db.db, batchRow('b_page', 'acme', 7), newItems(7));
  await writeResults(db.db, 'b_page', [
    { seq: 0, ref: 'r0', status: 'succeeded', stage: 'publish', publishedId: 'p0', attempts: 1, staged: true, published: true },
    {
      seq: 1,
      ref: 'r1',
      status: 'running',
      stage: 'classify',
      classification: { label: 'x', confidence: 1, tier: 'core' },
      attempts: 1,
      staged: false,
      published: false,
    },
    {
      seq: 2,
      ref: 'r2',
      status: 'failed',
      stage: 'ingest',
      error: { code: 'invalid_item', message: 'no', retryable: false, attempts: 1 },
      attempts: 1,
      staged: false,
      published: false,
    },
  ]);
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await listItems(db.db, 'b_page', { limit: 3, cursor });
    seen.push(...page.items.map((i) => `${i.ref}:${i.status}`));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  assert.deepEqual(seen, ['r0:succeeded', 'r1:pending', 'r2:failed', 'r3:pending', 'r4:pending', 'r5:pending', 'r6:pending']);
  const pending = await listItems(db.db, 'b_page', { status: 'pending', limit: 100 });
  assert.equal(pending.items.length, 5);
});

test('a later stage keeps the classification an earlier one recorded', async () => {
  await writeResults(db.db, 'b_page', [
    { seq: 1, ref: 'r1', status: 'succeeded', stage: 'publish', publishedId: 'p1', attempts: 2, staged: true, published: true },
  ]);
  const page = await listItems(db.db, 'b_page', { limit: 2, cursor: undefined });
  assert.deepEqual(page.items[1]!.classification, { label: 'x', confidence: 1, tier: 'core' });
  assert.equal(page.items[1]!.published_id, 'p1');
});

test('ending unfinished items leaves finished ones alone and counts what it ended', async () => {
  const n = await endUnfinished(db.db, 'b_page', 'cancelled');
  assert.equal(n, 4);
  const counts = await countItems(db.db, 'b_page', ['classify', 'ingest', 'publish']);
  assert.equal(counts.pending, 0);
  assert.equal(counts.cancelled, 4);
  assert.equal(counts.failed, 1);
  assert.equal(counts.published, 2);
  assert.equal(await endUnfinished(db.db, 'b_page', 'cancelled'), 0, 'a second call ends nothing');
});

test('batches list newest first per tenant, with a stable cursor', async () => {
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  for (let i = 0; i < 5; i++) await insertBatch(db.db, batchRow(`b_list_${i}`, 'other', 1, new Date(t0 + i * 1000)), newItems(1));
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await listBatches(db.db, 'other', { limit: 2, cursor });
    ids.push(...page.rows.map((r) => r.id));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  assert.deepEqual(ids, ['b_list_4', 'b_list_3', 'b_list_2', 'b_list_1', 'b_list_0']);
  assert.equal(
    (await listBatches(db.db, 'acme', { limit: 100 })).rows.every((r) => r.tenant_id === 'acme'),
    true,
  );
});

test("the API's rate counters skip the write-ahead log: a request never waits on a WAL flush", async () => {
  // relpersistence 'u' is an unlogged table; the schema is this test's own (search_path first).
  const { rows } = await sql<{ persistence: string }>`
    select c.relpersistence as persistence from pg_class c
    where c.relname = 'rate_limits' and c.relnamespace = (select oid from pg_namespace where nspname = current_schema())
  `.execute(db.db);
  assert.deepEqual(rows, [{ persistence: 'u' }]);
});
