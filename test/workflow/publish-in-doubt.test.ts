/**
 * A publish that the target carried out but whose answer never arrived (the call timed out) must not
 * leave a remote item that nothing records: the saga asks the target by the idempotency key and
 * deletes what it finds ("delete the orphaned product").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { FAST_RETRY, items, startStack, waitForBatch } from '../helpers/stack';
import { startPublishTarget } from '../helpers/publish-target';

test('a publish whose answer was lost is found at the target and undone; the item fails cleanly', { timeout: 120_000 }, async () => {
  const lost = new Set(['sku-3', 'sku-7']);
  // Each of the two publish attempts of these refs hangs past the 2 s client timeout, yet the target
  // creates the item. The publish stage gives up after 2 attempts.
  const target = await startPublishTarget({ hangFirst: { refs: lost, times: 2, ms: 3_000 } });
  // Tuning opt-in: the publish timeout and the retries running out are what this test is about.
  const stack = await startStack({
    publishUrl: target.url,
    publishTimeoutMs: 2_000,
    retry: { ...FAST_RETRY, publish: { ...FAST_RETRY.publish, maximumAttempts: 2 } },
  });
  try {
    const res = await stack.api('/v1/batches', { method: 'POST', body: JSON.stringify({ items: items(10), chunk_size: 5 }) });
    const { batch_id } = (await res.json()) as { batch_id: string };
    const done = await waitForBatch(stack, batch_id);
    assert.equal(done.status, 'partial');
    assert.equal(done.counts.failed, 2);
    assert.equal(done.counts.published, 8);
    assert.equal(done.counts.orphaned, 0);

    const page = (await (await stack.api(`/v1/batches/${batch_id}/items?status=failed`)).json()) as {
      items: Array<{ ref: string; error: { code: string; retryable: boolean } }>;
    };
    assert.deepEqual(page.items.map((i) => i.ref).sort(), [...lost].sort());
    assert.ok(
      page.items.every((i) => i.error.retryable),
      'a timeout is not a rejection: a redrive may pass',
    );

    // The target created both lost items (after the caller gave up); the saga found and deleted them.
    const createdLost = new Set(target.creates.filter((c) => lost.has(c.ref) && c.status === 201).map((c) => c.ref));
    assert.deepEqual([...createdLost].sort(), [...lost].sort());
    const live = [...target.items.values()].map((i) => i.ref);
    assert.equal(live.length, 8);
    assert.ok(live.every((ref) => !lost.has(ref)));
    assert.ok(target.deletes.filter((d) => d.status === 204).length >= 2);
    const { rows } = await sql<{
      n: number;
    }>`select count(*)::int as n from staged_items where batch_id = ${batch_id} and ref = any(${[...lost]}::text[])`.execute(stack.db.db);
    assert.equal(rows[0]!.n, 0, 'nor is anything left staged');
  } finally {
    await stack.stop();
    await target.close();
  }
});
