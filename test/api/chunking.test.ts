/**
 * Default chunking over HTTP (issue 15): a submission that leaves `chunk_size` or
 * `max_parallel_chunks` out gets them chosen from its size and the worker's slots
 * (src/batches/chunking.ts), and its answer's `options` shows the values chosen; a value it gives
 * is kept. Every way in: a JSON body, a CSV file (options in the query), a compatibility route.
 *
 * No worker: only what the API chose matters, and the batches stay queued, so the key may hold
 * more of them at once than the shipped 3.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { items, SHIPPED, startStack, type Stack } from '../helpers/stack';

type Options = Record<string, unknown>;

let stack: Stack;
before(async () => {
  assert.equal(SHIPPED.activitySlots, 32, 'the figures below are for the shipped WORKER_ACTIVITY_SLOTS');
  stack = await startStack({ noWorker: true, limits: { max_active_batches: 100 } });
});
after(() => stack?.stop());

async function accepted(res: Response): Promise<{ batch_id: string; options: Options }> {
  const body = (await res.json()) as { batch_id: string; options: Options };
  assert.equal(res.status, 202, JSON.stringify(body));
  return body;
}

const submit = async (s: Stack, body: Record<string, unknown>) =>
  accepted(await s.api('/v1/batches', { method: 'POST', body: JSON.stringify({ stages: ['classify'], ...body }) }));

/** The chunking in the answer, and the same in the row the workflow was started from. */
async function chunking(s: Stack, answer: { batch_id: string; options: Options }): Promise<[unknown, unknown]> {
  const row = await s.db.db.selectFrom('batches').select('options').where('id', '=', answer.batch_id).executeTakeFirstOrThrow();
  const stored = (typeof row.options === 'string' ? JSON.parse(row.options) : row.options) as Options;
  const shown: [unknown, unknown] = [answer.options.chunk_size, answer.options.max_parallel_chunks];
  assert.deepEqual([stored.chunkSize, stored.maxParallelChunks], shown, 'the answer shows what the batch runs with');
  return shown;
}

describe('a JSON submission', () => {
  test('with no chunking options gets them chosen from its size, and shows them', async () => {
    assert.deepEqual(await chunking(stack, await submit(stack, { items: items(50) })), [10, 5]);
    assert.deepEqual(await chunking(stack, await submit(stack, { items: items(1_000) })), [63, 16]);
    assert.deepEqual(await chunking(stack, await submit(stack, { items: items(3) })), [3, 1]);
    // null is the field left out (docs/api.md, "Conventions").
    assert.deepEqual(
      await chunking(stack, await submit(stack, { items: items(50), chunk_size: null, max_parallel_chunks: null })),
      [10, 5],
    );
  });

  test('keeps what it gives; only the missing one is chosen', async () => {
    assert.deepEqual(await chunking(stack, await submit(stack, { items: items(1_000), chunk_size: 7, max_parallel_chunks: 3 })), [7, 3]);
    assert.deepEqual(await chunking(stack, await submit(stack, { items: items(1_000), chunk_size: 200 })), [200, 5]);
    assert.deepEqual(await chunking(stack, await submit(stack, { items: items(1_000), max_parallel_chunks: 4 })), [100, 4]);
  });

  test('express batches are chunked for the express worker’s own 16 slots', async () => {
    assert.deepEqual(await chunking(stack, await submit(stack, { items: items(1_000), priority: 'express' })), [100, 8]);
  });
});

test('a CSV file with no chunking options in its query gets them chosen too', async () => {
  const csv = `ref,text\n${Array.from({ length: 50 }, (_, i) => `f-${i},cotton t-shirt`).join('\n')}\n`;
  const upload = (query: string) =>
    stack.api(`/v1/batches${query}`, { method: 'POST', body: csv, headers: { 'content-type': 'text/csv' } }).then(accepted);
  assert.deepEqual(await chunking(stack, await upload('?stages=classify')), [10, 5]);
  assert.deepEqual(await chunking(stack, await upload('?stages=classify&chunk_size=25')), [25, 2]);
});

test('a compatibility route’s batch gets the chosen chunking', async () => {
  const parts = Array.from({ length: 50 }, (_, i) => `PN-${i}`).join('\n');
  const res = await stack.api('/api/bulk-search', { method: 'POST', body: JSON.stringify({ part_numbers_text: parts }) });
  const body = (await res.json()) as { batch_id: string };
  assert.equal(res.status, 200, JSON.stringify(body));
  const row = await stack.db.db.selectFrom('batches').select('options').where('id', '=', body.batch_id).executeTakeFirstOrThrow();
  const stored = (typeof row.options === 'string' ? JSON.parse(row.options) : row.options) as Options;
  assert.deepEqual([stored.chunkSize, stored.maxParallelChunks], [10, 5]);
});

test('the API chooses for the slots WORKER_ACTIVITY_SLOTS gives the workers', async () => {
  const small = await startStack({ noWorker: true, activitySlots: 8, limits: { max_active_batches: 10 } });
  try {
    assert.deepEqual(await chunking(small, await submit(small, { items: items(1_000) })), [100, 4]);
    assert.deepEqual(await chunking(small, await submit(small, { items: items(50) })), [13, 4]);
  } finally {
    await small.stop();
  }
});
