/**
 * Every ref gets its own Idempotency-Key at the publish target, whatever its characters: refs
 * that differ only by a trailing space, refs outside Latin-1 (which a header cannot carry as they
 * are) and refs holding a tab. Each is published once, under its own key, with its own id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { publishKey } from '../../activities/stages/publish/http';
import { allItems } from '../helpers/api';
import { startPublishTarget } from '../helpers/publish-target';
import { startStack, waitForBatch } from '../helpers/stack';

test('refs x, "x ", 商品-1, ü-2 and one with a tab: each published once under its own key', { timeout: 120_000 }, async () => {
  const refs = ['x', 'x ', '商品-1', 'ü-2', 'a\tb'];
  const target = await startPublishTarget();
  const stack = await startStack({ publishUrl: target.url });
  try {
    const res = await stack.api('/v1/batches', {
      method: 'POST',
      body: JSON.stringify({ items: refs.map((ref) => ({ ref, text: `item ${ref}` })), stages: ['publish'] }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    const { batch_id } = (await res.json()) as { batch_id: string };
    const done = await waitForBatch(stack, batch_id);
    assert.equal(done.status, 'completed', JSON.stringify(done.counts));
    assert.equal(done.counts.published, refs.length);

    // At the target: one live item per ref, each under the key the contract names, all distinct.
    const live = [...target.items.values()];
    assert.deepEqual(live.map((i) => i.ref).sort(), [...refs].sort());
    for (const { ref, key } of live) assert.equal(key, publishKey(batch_id, ref), JSON.stringify(ref));
    assert.equal(new Set(live.map((i) => i.key)).size, refs.length, 'no two refs share a key');
    assert.equal(target.creates.filter((c) => c.status === 201).length, refs.length, 'each created once');

    // In batchflow: each item has its own remote id.
    const items = await allItems(stack, batch_id);
    const ids = new Map(items.map((i) => [i.ref, i.published_id]));
    assert.equal(new Set(ids.values()).size, refs.length);
    for (const [id, { ref }] of target.items) assert.equal(ids.get(ref), id, JSON.stringify(ref));
  } finally {
    await stack.stop();
    await target.close();
  }
});

test('the key is the batch id and the percent-encoded ref', () => {
  assert.equal(publishKey('b_1', 'x'), 'b_1:x');
  assert.equal(publishKey('b_1', 'x '), 'b_1:x%20');
  assert.equal(publishKey('b_1', '商品-1'), 'b_1:%E5%95%86%E5%93%81-1');
  assert.equal(publishKey('b_1', 'a\tb'), 'b_1:a%09b');
  assert.match(publishKey('b_1', 'ü-2'), /^[\x21-\x7e]+$/, 'printable ASCII: valid in any header');
});
