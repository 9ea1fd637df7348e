/**
 * Express batches overtake queued normal work: they run on a task queue, with worker slots, of
 * their own. Three normal batches fill the normal slots; an express batch submitted after them
 * starts at once and finishes first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { items, startStack, waitForBatch } from '../helpers/stack';
import { startPublishTarget } from '../helpers/publish-target';

test('an express batch submitted behind three running normal batches starts at once and finishes first', { timeout: 180_000 }, async () => {
  const target = await startPublishTarget({ latencyMs: 200 });
  // Tuning opt-in: full normal slots are what this test is about. Two activity slots for normal
  // work: the three normal batches keep them busy and queue the rest. And four active batches (the
  // shipped limit is 3): the express one comes on top of the three normal ones.
  const stack = await startStack({ publishUrl: target.url, activitySlots: 2, limits: { max_active_batches: 4 } });
  try {
    const submit = async (body: Record<string, unknown>): Promise<string> => {
      const res = await stack.api('/v1/batches', { method: 'POST', body: JSON.stringify(body) });
      assert.equal(res.status, 202);
      return ((await res.json()) as { batch_id: string }).batch_id;
    };
    const normal: string[] = [];
    for (let n = 0; n < 3; n++)
      normal.push(await submit({ items: items(60).map((i) => ({ ...i, ref: `n${n}-${i.ref}` })), chunk_size: 5, max_parallel_chunks: 4 }));
    await waitForBatch(stack, normal[2]!, (b) => b.status === 'running' && ((b.counts as Record<string, number>).published ?? 0) > 0);

    const submittedAt = Date.now();
    const express = await submit({ items: items(10).map((i) => ({ ...i, ref: `x-${i.ref}` })), chunk_size: 5, priority: 'express' });
    const done = await waitForBatch(stack, express);
    assert.equal(done.status, 'completed');
    const expressMs = Date.now() - submittedAt;

    // When the express batch finished, every normal batch was still running.
    for (const id of normal) {
      const body = (await (await stack.api(`/v1/batches/${id}`)).json()) as { status: string };
      assert.notEqual(body.status, 'completed', `normal batch ${id} finished before the express one`);
    }
    const finished = await Promise.all(normal.map((id) => waitForBatch(stack, id, undefined, 170_000)));
    for (const b of finished) {
      assert.equal(b.status, 'completed');
      assert.ok(Date.parse(b.completed_at as string) > Date.parse(done.completed_at as string));
    }
    // Its first publish came right after it was submitted, not after the normal backlog.
    const firstExpress = Math.min(...target.creates.filter((c) => c.ref.startsWith('x-')).map((c) => c.at));
    const lastNormal = Math.max(...target.creates.filter((c) => c.ref.startsWith('n')).map((c) => c.at));
    assert.ok(firstExpress < lastNormal);
    console.log(`# express batch: ${expressMs} ms from submit to completed; first publish ${firstExpress - submittedAt} ms after submit`);
  } finally {
    await stack.stop();
    await target.close();
  }
});
