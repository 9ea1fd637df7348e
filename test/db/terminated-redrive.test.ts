/**
 * A batch ended outside batchflow (terminated) leaves items failed while still staged: no run is
 * left to undo them. A redrive of the finished batch (`closed`) must run them again; a reset while a
 * run is open must not (that run's undo is still under way).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ulid } from 'ulid';
import type { Db } from '../../src/db/connect';
import { emptyCounts } from '../../src/contracts/workflow';
import { insertBatch } from '../../src/db/batches';
import { countFailed, resetFailed, writeResults } from '../../src/db/items';
import { endTerminated } from '../../src/db/terminated';
import { testDb } from '../helpers/db';

let db: Db;
before(async () => {
  db = await testDb();
});
after(async () => {
  await db.close();
});

test('items a terminated run left failed and staged run again on a redrive, not while a run is open', async () => {
  const batchId = `b_${ulid()}`;
  await db.db
    .insertInto('tenants')
    .values({ id: 'acme', name: 'acme' })
    .onConflict((c) => c.doNothing())
    .execute();
  await insertBatch(
    db.db,
    {
      id: batchId,
      tenant_id: 'acme',
      status: 'running',
      priority: 'normal',
      options: JSON.stringify({ stages: ['classify', 'ingest', 'publish'], chunkSize: 2 }),
      metadata: '{}',
      callback_url: null,
      total_items: 4,
      counts: JSON.stringify(emptyCounts(4)),
      error: null,
      idempotency_key: null,
      request_hash: null,
      workflow_id: `batch-${batchId}`,
    },
    ['a', 'b', 'c', 'd'].map((ref) => ({ ref, text: ref, content: null, contentType: null, attributes: null })),
  );
  // a: published; b: staged, waiting for publish when the run was terminated; c, d: not reached.
  await writeResults(db.db, batchId, [
    { seq: 0, ref: 'a', status: 'succeeded', stage: 'publish', publishedId: 'p1', attempts: 1, staged: true, published: true },
    { seq: 1, ref: 'b', status: 'running', stage: 'ingest', attempts: 1, staged: true, published: false },
  ]);
  const ended = await endTerminated(db.db, batchId, 'terminated in the Temporal UI');
  assert.deepEqual(ended, { items: 3 });

  assert.equal(await countFailed(db.db, batchId), 3, 'the staged one counts as one to retry');
  const open = await resetFailed(db.db, batchId, 2, false, false);
  assert.equal(open.items, 2, 'while a run is open, the staged item waits for its undo');
  const redrive = await resetFailed(db.db, batchId, 2, false, true);
  assert.deepEqual(redrive, { items: 1, chunks: [0] }, 'the redrive of the closed batch takes it (c and d were put back already)');
  const b = await db.db
    .selectFrom('item_results')
    .select(['status', 'staged'])
    .where('batch_id', '=', batchId)
    .where('seq', '=', 1)
    .executeTakeFirstOrThrow();
  assert.deepEqual(b, { status: 'pending', staged: true }, 'it keeps its staged flag for any later undo');
});
