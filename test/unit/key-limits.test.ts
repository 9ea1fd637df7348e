/**
 * A key's limits in force (src/auth/limits.ts): the contract's per-minute defaults, a key's stored
 * overrides over them (including rows written when the defaults were hourly), and the keys
 * command's `--rate` form.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONTRACT_LIMITS, LEGACY_WINDOW_SECONDS, describeOverrides, formatRate, parseRates, resolveLimits } from '../../src/auth/limits';

test("the contract's defaults: 3 active batches, 60 submissions, 600 reads and 30 exports a minute", () => {
  assert.deepEqual(resolveLimits(CONTRACT_LIMITS, null), {
    maxItems: 50_000,
    maxActiveBatches: 3,
    submissions: { points: 60, windowSeconds: 60 },
    reads: { points: 600, windowSeconds: 60 },
    exports: { points: 30, windowSeconds: 60 },
  });
  assert.deepEqual(
    ['submissions', 'reads', 'exports'].map((b) => formatRate(CONTRACT_LIMITS[b as 'reads'])),
    ['60/m', '600/m', '30/m'],
  );
});

test('stored overrides: count and window as the keys command writes them; a count alone keeps the hour it was written for', () => {
  const written = resolveLimits(CONTRACT_LIMITS, parseRates('reads=50/h,exports=5/30m,submissions=120/m'));
  assert.deepEqual(written.reads, { points: 50, windowSeconds: 3_600 });
  assert.deepEqual(written.exports, { points: 5, windowSeconds: 1_800 });
  assert.deepEqual(written.submissions, { points: 120, windowSeconds: 60 });

  // A hand-written row from the hourly days: {"reads": 5000} meant 5,000 an hour, and still does.
  const legacy = resolveLimits(CONTRACT_LIMITS, { reads: 5_000, max_active_batches: 5 });
  assert.equal(LEGACY_WINDOW_SECONDS, 3_600);
  assert.deepEqual(legacy.reads, { points: 5_000, windowSeconds: 3_600 });
  assert.deepEqual(legacy.submissions, CONTRACT_LIMITS.submissions, 'buckets it does not name follow the defaults');
  assert.equal(legacy.maxActiveBatches, 5);
  assert.equal(describeOverrides({ reads: 5_000 }), 'reads=5000/h');

  // A window alone takes the default count.
  assert.deepEqual(resolveLimits(CONTRACT_LIMITS, { exports_window_s: 10 }).exports, { points: 30, windowSeconds: 10 });
  // Values that are not positive integers are ignored, never lifting a limit.
  assert.deepEqual(resolveLimits(CONTRACT_LIMITS, { reads: -1, reads_window_s: 'x', max_items: 1e9 }).reads, CONTRACT_LIMITS.reads);
  assert.equal(resolveLimits(CONTRACT_LIMITS, { max_items: 1e9 }).maxItems, 50_000);
});

test("an operator's defaults (config) apply to every bucket a key leaves out", () => {
  const hourly = { ...CONTRACT_LIMITS, reads: { points: 1_000, windowSeconds: 3_600 } };
  assert.deepEqual(resolveLimits(hourly, {}).reads, { points: 1_000, windowSeconds: 3_600 });
  assert.deepEqual(resolveLimits(hourly, { reads_window_s: 60 }).reads, { points: 1_000, windowSeconds: 60 });
});
