/**
 * The classify stage's tiers end to end: a real fallback endpoint on loopback speaking the
 * chat-completions shape, the cost tally, and human review resolved through the API.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CoreTier } from '../../activities/stages/classify';
import { createFallback, parseAnswer } from '../../activities/stages/classify/fallback';
import { startFallbackServer, type FallbackServer } from '../helpers/fallback-server';
import { startPublishTarget } from '../helpers/publish-target';
import { startStack, waitForBatch, type Stack } from '../helpers/stack';

/** A stand-in core tier whose confidence the test chooses, so each tier's path is certain. */
const core: CoreTier = {
  classify: (text) => {
    const confidence = text.startsWith('clear') ? 0.95 : text.startsWith('unsure') ? 0.5 : 0.1;
    return {
      label: '6109',
      confidence,
      candidates: [
        { label: '6109', description: 'T-shirts', confidence },
        { label: '6110', description: 'Jerseys', confidence: 0.05 },
      ],
    };
  },
};

const COST = { core: 0.001, fallback: 0.02, human_review: 0.5 };
let fallback: FallbackServer;
let stack: Stack;
before(async () => {
  // Sure of "unsure…" products, unsure of the rest.
  fallback = await startFallbackServer((user) =>
    user.product.startsWith('unsure') ? { label: '6110', confidence: 0.8 } : { label: '6110', confidence: 0.4 },
  );
  stack = await startStack({
    classify: {
      core,
      coreThreshold: 0.85,
      fallbackThreshold: 0.7,
      cost: COST,
      fallback: createFallback({ url: fallback.url, model: 'test', timeoutMs: 5_000 }),
    },
  });
});
after(async () => {
  await stack.stop();
  await fallback.close();
});

interface Item {
  ref: string;
  status: string;
  classification: { label: string; confidence: number; tier: string; cost: number } | null;
  published_id: string | null;
}

async function allItems(batchId: string): Promise<Item[]> {
  const res = await stack.api(`/v1/batches/${batchId}/items?limit=1000`);
  return ((await res.json()) as { items: Item[] }).items;
}

test('each tier decides what it is sure of; cost by tier adds up to the per-item costs', { timeout: 120_000 }, async () => {
  const items = [
    ...Array.from({ length: 6 }, (_, i) => ({ ref: `c${i}`, text: `clear product ${i}` })),
    ...Array.from({ length: 4 }, (_, i) => ({ ref: `u${i}`, text: `unsure product ${i}` })),
    ...Array.from({ length: 3 }, (_, i) => ({ ref: `x${i}`, text: `xk-${i} part` })),
  ];
  const res = await stack.api('/v1/batches', { method: 'POST', body: JSON.stringify({ items, chunk_size: 5 }) });
  const { batch_id } = (await res.json()) as { batch_id: string };
  const done = await waitForBatch(stack, batch_id);
  assert.equal(done.status, 'partial');
  assert.equal(done.counts.needs_review, 3);
  assert.equal(done.counts.published, 10);

  const byRef = new Map((await allItems(batch_id)).map((i) => [i.ref, i]));
  for (let i = 0; i < 6; i++)
    assert.deepEqual(byRef.get(`c${i}`)!.classification, { label: '6109', confidence: 0.95, tier: 'core', cost: COST.core });
  for (let i = 0; i < 4; i++)
    assert.deepEqual(byRef.get(`u${i}`)!.classification, {
      label: '6110',
      confidence: 0.8,
      tier: 'fallback',
      cost: COST.core + COST.fallback,
    });
  for (let i = 0; i < 3; i++) {
    const item = byRef.get(`x${i}`)!;
    assert.equal(item.status, 'needs_review');
    assert.equal(item.classification!.tier, 'human_review');
    assert.equal(item.classification!.cost, COST.core + COST.fallback + COST.human_review);
    // The fallback's unsure pick first, then the core tier's candidate it did not repeat.
    assert.deepEqual((item.classification as unknown as { suggestions: unknown }).suggestions, [
      { label: '6110', confidence: 0.4 },
      { label: '6109', confidence: 0.1 },
    ]);
  }
  // Only what the core was unsure of went to the fallback, with the core's candidates.
  assert.equal(fallback.requests.filter((r) => r.product.startsWith('clear')).length, 0);
  assert.ok(fallback.requests.every((r) => r.candidates.some((c) => c.code === '6109')));

  const cost = (done as unknown as { cost: { total: number; by_tier: Record<string, number> } }).cost;
  assert.deepEqual(cost.by_tier, { core: 6, fallback: 4, human_review: 3 });
  const perItem = [...byRef.values()].reduce((sum, i) => sum + (i.classification?.cost ?? 0), 0);
  assert.equal(cost.total, Math.round(perItem * 1e4) / 1e4);
});

test('a review resolved through the API runs the remaining stages, and the counts move', { timeout: 120_000 }, async () => {
  const items = [
    { ref: 'ok-1', text: 'clear shirt' },
    { ref: 'rv-1', text: 'xk part one' },
    { ref: 'rv-2', text: 'xk part two' },
  ];
  const res = await stack.api('/v1/batches', { method: 'POST', body: JSON.stringify({ items, chunk_size: 2 }) });
  const { batch_id } = (await res.json()) as { batch_id: string };
  const first = await waitForBatch(stack, batch_id);
  assert.equal(first.status, 'partial');
  assert.equal(first.counts.needs_review, 2);

  const queue = (await (await stack.api(`/v1/review?batch_id=${batch_id}`)).json()) as {
    items: Array<{ ref: string; suggestion: { label: string } }>;
  };
  assert.deepEqual(queue.items.map((i) => i.ref).sort(), ['rv-1', 'rv-2']);

  const resolved = await stack.api(`/v1/review/${batch_id}/rv-1`, { method: 'POST', body: JSON.stringify({ label: '8471' }) });
  assert.equal(resolved.status, 202);
  const again = await stack.api(`/v1/review/${batch_id}/rv-1`, { method: 'POST', body: JSON.stringify({ label: '8471' }) });
  assert.equal(again.status, 409, 'an item no longer in review cannot be resolved twice');

  const after1 = await waitForBatch(
    stack,
    batch_id,
    (b) => b.status === 'partial' && (b.counts as Record<string, number>).needs_review === 1,
  );
  assert.equal(after1.counts.published, 2);
  const item = (await allItems(batch_id)).find((i) => i.ref === 'rv-1')!;
  assert.equal(item.status, 'succeeded');
  assert.ok(item.published_id);
  assert.equal(item.classification!.label, '8471');
  assert.equal(item.classification!.tier, 'human_review');

  await stack.api(`/v1/review/${batch_id}/rv-2`, { method: 'POST', body: JSON.stringify({ label: '9503' }) });
  const done = await waitForBatch(stack, batch_id, (b) => b.status === 'completed');
  assert.equal(done.counts.needs_review, 0);
  assert.equal(done.counts.published, 3);
  const other = await stack.addTenant();
  assert.equal(
    (await stack.api(`/v1/review/${batch_id}/rv-2`, { method: 'POST', body: JSON.stringify({ label: 'x' }), key: other.key })).status,
    404,
  );
});

test('the fallback answer is parsed defensively: a label outside the candidates counts for nothing', async () => {
  const reply = (content: string) => JSON.stringify({ choices: [{ message: { content } }] });
  assert.deepEqual(parseAnswer(reply('{"label":"6109","confidence":0.9}'), new Set(['6109'])), {
    ok: true,
    label: '6109',
    confidence: 0.9,
  });
  assert.deepEqual(parseAnswer(reply('Sure! {"label":"6109","confidence":1.5}'), new Set(['6109'])), {
    ok: true,
    label: '6109',
    confidence: 1,
  });
  assert.equal((parseAnswer(reply('{"label":"9999","confidence":0.99}'), new Set(['6109'])) as { confidence: number }).confidence, 0);
  assert.equal((parseAnswer('not json', new Set(['6109'])) as { confidence: number }).confidence, 0);
});

test('a review resolved while its batch still runs goes through the workflow, in the same run', { timeout: 120_000 }, async () => {
  const target = await startPublishTarget({ latencyMs: 150 });
  const slow = await startStack({ publishUrl: target.url, classify: { core, coreThreshold: 0.85, fallbackThreshold: 0.7, cost: COST } });
  try {
    const items = [{ ref: 'rv-0', text: 'xk part' }, ...Array.from({ length: 60 }, (_, i) => ({ ref: `c${i}`, text: `clear ${i}` }))];
    const res = await slow.api('/v1/batches', { method: 'POST', body: JSON.stringify({ items, chunk_size: 5, max_parallel_chunks: 1 }) });
    const { batch_id, workflow_id } = (await res.json()) as { batch_id: string; workflow_id: string };
    await waitForBatch(slow, batch_id, (b) => (b.counts as Record<string, number>).needs_review === 1);
    const resolved = await slow.api(`/v1/review/${batch_id}/rv-0`, { method: 'POST', body: JSON.stringify({ label: '8708' }) });
    assert.equal(resolved.status, 202);
    const mid = (await (await slow.api(`/v1/batches/${batch_id}`)).json()) as { status: string };
    assert.equal(mid.status, 'running', 'the batch was still running when the review was resolved');
    const done = await waitForBatch(slow, batch_id);
    assert.equal(done.status, 'completed');
    assert.equal(done.counts.published, 61);
    assert.equal(target.countByRef().get('rv-0'), 1);
    // One run only: the review reached the open workflow rather than a redrive.
    let runs = 0;
    for await (const _ of slow.client.workflow.list({ query: `WorkflowId = "${workflow_id}"` })) runs++;
    assert.equal(runs, 1);
  } finally {
    await slow.stop();
    await target.close();
  }
});
