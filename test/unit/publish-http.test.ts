import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retryAfterMs } from '../../activities/stages/publish/http';

test('Retry-After is read as seconds or as an HTTP date', () => {
  assert.equal(retryAfterMs('2'), 2000);
  assert.equal(retryAfterMs(null), undefined);
  assert.equal(retryAfterMs('soon'), undefined);
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
});
