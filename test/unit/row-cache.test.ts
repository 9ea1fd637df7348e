/**
 * Batch rows kept for progress reads (src/batches/row-cache.ts) against the real database's change
 * notifications (migration 0009; PGlite here, PostgreSQL in test/db/listen.test.ts): a kept row
 * answers without a query; any update or delete of the row drops it at commit, so a batch that has
 * ended is read as ended; a load that overlaps a change, or a process not listening, keeps nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyCounts } from '../../src/contracts/workflow';
import { deleteBatch, finishBatch, getBatch, insertBatch } from '../../src/db/batches';
import { ensureTenant } from '../../src/db/keys';
import { BATCH_CHANGED, createRowCache, MAX_AGE_MS, watchedRowCache } from '../../src/batches/row-cache';
import { testDb, type TestDb } from '../helpers/db';
import { eventually } from '../helpers/api';

let db: TestDb;
before(async () => {
  db = await testDb();
  await ensureTenant(db.db, 'acme');
});
after(() => db.close());

let batches = 0;
async function runningBatch(): Promise<string> {
  const id = `b_rows_${++batches}`;
  await insertBatch(
    db.db,
    {
      id,
      tenant_id: 'acme',
      status: 'running',
      priority: 'normal',
      options: '{}',
      metadata: '{}',
      callback_url: null,
      total_items: 1,
      counts: JSON.stringify(emptyCounts(1)),
      error: null,
      idempotency_key: null,
      request_hash: null,
      workflow_id: `batch-${id}`,
    },
    [{ ref: 'r0', text: 'item', content: null, contentType: null, attributes: null }],
  );
  return id;
}

const finish = (id: string) => finishBatch(db.db, id, { status: 'completed', counts: emptyCounts(1), rolledBack: false, error: null });

test('a kept row answers without a query; its update drops it at commit, and the next read loads the ended batch', async () => {
  const watched = await watchedRowCache(db.listen);
  try {
    const id = await runningBatch();
    let loads = 0;
    const read = () => watched.rows.get('acme', id, () => (loads++, getBatch(db.db, 'acme', id)));
    assert.equal((await read())?.status, 'running');
    assert.equal((await read())?.status, 'running');
    assert.equal(loads, 1, 'the second read came from the kept row');

    await finish(id);
    // The notification arrives at commit; the copy would otherwise live MAX_AGE_MS (5 s).
    const started = Date.now();
    await eventually('the ended batch to be read', async () => (await read())?.status === 'completed', MAX_AGE_MS);
    assert.ok(Date.now() - started < MAX_AGE_MS / 2, 'dropped by the notification, not by age');
    assert.ok(loads >= 2, 'loaded again');

    await deleteBatch(db.db, id);
    await eventually('the deleted batch to be gone', async () => (await read()) === undefined, MAX_AGE_MS / 2);
  } finally {
    await watched.close();
  }
});

test("another tenant's batch is not found, kept or not", async () => {
  const watched = await watchedRowCache(db.listen);
  try {
    const id = await runningBatch();
    assert.ok(await watched.rows.get('acme', id, () => getBatch(db.db, 'acme', id)));
    assert.equal(await watched.rows.get('other', id, () => getBatch(db.db, 'other', id)), undefined);
  } finally {
    await watched.close();
  }
});

test('a load that overlaps a change is not kept: it may hold the row from before the change', async () => {
  const rows = createRowCache(() => true);
  const id = await runningBatch();
  let loads = 0;
  const slowLoad = async () => {
    loads++;
    const row = await getBatch(db.db, 'acme', id);
    rows.drop(id); // the change's notification arrives while this load is on its way
    return row;
  };
  await rows.get('acme', id, slowLoad);
  await rows.get('acme', id, () => (loads++, getBatch(db.db, 'acme', id)));
  assert.equal(loads, 2, 'the overlapped load was not kept');
  assert.equal(rows.size(), 1, 'the next one was');
});

test('not listening, nothing is kept; a gap drops every kept row', async () => {
  let listening = false;
  const rows = createRowCache(() => listening);
  const id = await runningBatch();
  let loads = 0;
  const read = () => rows.get('acme', id, () => (loads++, getBatch(db.db, 'acme', id)));
  await read();
  await read();
  assert.equal(loads, 2, 'without notifications every read loads');
  listening = true;
  await read();
  await read();
  assert.equal(loads, 3);
  rows.gap();
  assert.equal(rows.size(), 0);
  await read();
  assert.equal(loads, 4);
});

test('every update of a batch row notifies its id, whoever makes it', async () => {
  const id = await runningBatch();
  const heard: string[] = [];
  const listening = await db.listen(BATCH_CHANGED, { message: (p) => heard.push(p), gap: () => undefined });
  try {
    await db.db.updateTable('batches').set({ priority: 'high' }).where('id', '=', id).execute();
    await eventually('the notification', () => heard.includes(id), MAX_AGE_MS);
  } finally {
    await listening.close();
  }
});
