/**
 * A product from a heading the taxonomy lacks, through the real core tier and the real workflow:
 * the model trained on the shipped taxonomy less four headings (the products issue 17 found
 * decided with confidence: a battery pack, a refrigerator, a washing machine, a vacuum cleaner) must
 * not decide them. Without a fallback tier they end `needs_review`; with one, they go to it first,
 * with the core tier's candidates. Either way the review queue carries the best guesses.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createFallback } from '../../activities/stages/classify/fallback';
import { trainCore, type CoreClassifier } from '../../activities/stages/classify/model';
import { loadTaxonomy } from '../../activities/stages/classify/taxonomy';
import { startFallbackServer } from '../helpers/fallback-server';
import { startStack, waitForBatch, type Stack } from '../helpers/stack';

const LEFT_OUT = ['8507', '8418', '8450', '8508'];
const PRODUCTS = [
  { ref: 'battery', text: 'rechargeable lithium-ion battery pack' },
  { ref: 'fridge', text: 'refrigerator' },
  { ref: 'washer', text: 'washing machine' },
  { ref: 'vacuum', text: 'vacuum cleaner' },
];
// Known products alongside, so the batch shows both paths.
const KNOWN = [
  { ref: 'tee', text: 'cotton t-shirt crew neck' },
  { ref: 'laptop', text: 'laptop computer' },
];

const shipped = loadTaxonomy();
let core: CoreClassifier;
before(() => {
  core = trainCore({ ...shipped, headings: shipped.headings.filter((h) => !LEFT_OUT.includes(h.code)) });
});

interface ReviewItem {
  ref: string;
  suggestion: { label: string; confidence: number } | null;
  suggestions: Array<{ label: string; confidence: number }>;
}

async function reviewQueue(stack: Stack, batchId: string): Promise<Map<string, ReviewItem>> {
  const res = await stack.api(`/v1/review?batch_id=${batchId}&limit=100`);
  assert.equal(res.status, 200);
  return new Map(((await res.json()) as { items: ReviewItem[] }).items.map((i) => [i.ref, i]));
}

function assertSuggestions(item: ReviewItem | undefined): void {
  assert.ok(item, 'in the review queue');
  assert.equal(item.suggestions.length, 3, `${item.ref}: three suggestions`);
  assert.deepEqual(item.suggestions[0], item.suggestion, 'the best guess leads');
  for (const s of item.suggestions) {
    assert.ok(!LEFT_OUT.includes(s.label), `${item.ref}: ${s.label} is a heading the model never saw`);
    assert.match(s.label, /^\d{4}$/);
    assert.ok(s.confidence >= 0 && s.confidence < 0.85, `${item.ref}: ${s.label} at ${s.confidence}`);
  }
}

test(
  'without a fallback tier, products of left-out headings end needs_review with suggestions; known ones are decided',
  { timeout: 120_000 },
  async () => {
    const stack = await startStack({ classify: { core } });
    try {
      const res = await stack.api('/v1/batches', {
        method: 'POST',
        body: JSON.stringify({ items: [...PRODUCTS, ...KNOWN], stages: ['classify'] }),
      });
      assert.equal(res.status, 202);
      const { batch_id } = (await res.json()) as { batch_id: string };
      const done = await waitForBatch(stack, batch_id);
      assert.equal(done.status, 'partial');
      assert.equal(done.counts.needs_review, PRODUCTS.length);
      assert.equal(done.counts.classified, PRODUCTS.length + KNOWN.length);
      assert.deepEqual((done as unknown as { cost: { by_tier: Record<string, number> } }).cost.by_tier, {
        core: KNOWN.length,
        human_review: PRODUCTS.length,
      });
      const queue = await reviewQueue(stack, batch_id);
      assert.deepEqual([...queue.keys()].sort(), PRODUCTS.map((p) => p.ref).sort());
      for (const p of PRODUCTS) assertSuggestions(queue.get(p.ref));
    } finally {
      await stack.stop();
    }
  },
);

test(
  'with a fallback tier, they go to it first with the core candidates, and reach review when it is unsure',
  { timeout: 120_000 },
  async () => {
    // A fallback endpoint that is never sure: it picks the first candidate at 0.3.
    const server = await startFallbackServer((user) => ({ label: user.candidates[0]!.code, confidence: 0.3 }));
    const asked = server.requests;
    const stack = await startStack({ classify: { core, fallback: createFallback({ url: server.url, model: 'test', timeoutMs: 5_000 }) } });
    try {
      const res = await stack.api('/v1/batches', { method: 'POST', body: JSON.stringify({ items: PRODUCTS, stages: ['classify'] }) });
      const { batch_id } = (await res.json()) as { batch_id: string };
      const done = await waitForBatch(stack, batch_id);
      assert.equal(done.counts.needs_review, PRODUCTS.length);
      assert.deepEqual(asked.map((a) => a.product).sort(), PRODUCTS.map((p) => p.text).sort(), 'each went to the fallback tier once');
      for (const a of asked) {
        assert.equal(a.candidates.length, 5);
        for (const c of a.candidates) assert.ok(!LEFT_OUT.includes(c.code));
      }
      const queue = await reviewQueue(stack, batch_id);
      for (const p of PRODUCTS) {
        const item = queue.get(p.ref);
        assertSuggestions(item);
        assert.equal(item!.suggestion!.confidence, 0.3, "the fallback's unsure pick is the best guess");
      }
    } finally {
      await stack.stop();
      await server.close();
    }
  },
);
