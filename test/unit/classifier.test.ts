import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyText } from '../../activities/classifier';
import { retryAfterMs } from '../../activities/publish-http';

test('a clear product description gets its heading with high confidence', () => {
  const label = classifyText("Men's cotton t-shirt, crew neck");
  assert.equal(label.label, '6109');
  assert.ok(label.confidence >= 0.85);
});

test('text matching nothing gets confidence 0, so it goes to review', () => {
  assert.deepEqual(classifyText('XK-99812-B'), { label: 'unclassified', confidence: 0, tier: 'core' });
});

test('ambiguous text scores lower than clear text', () => {
  const ambiguous = classifyText('leather laptop sleeve');
  assert.ok(ambiguous.confidence < 0.85, `confidence ${ambiguous.confidence}`);
});

test('Retry-After is read as seconds or as an HTTP date', () => {
  assert.equal(retryAfterMs('2'), 2000);
  assert.equal(retryAfterMs(null), undefined);
  assert.equal(retryAfterMs('soon'), undefined);
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
});
