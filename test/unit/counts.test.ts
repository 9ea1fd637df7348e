import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countsFromTally } from '../../src/db/counts';

test('counts derive from (stage, status) tallies, and add up to the total', () => {
  const counts = countsFromTally(
    [
      { stage: null, status: null, n: 5 }, // never started
      { stage: 'classify', status: 'running', n: 3 }, // classified, not yet ingested
      { stage: 'classify', status: 'needs_review', n: 2 },
      { stage: 'classify', status: 'failed', n: 1 },
      { stage: 'ingest', status: 'cancelled', n: 4 },
      { stage: 'publish', status: 'failed', n: 6 },
      { stage: 'publish', status: 'succeeded', n: 10 },
    ],
    ['classify', 'ingest', 'publish'],
  );
  assert.deepEqual(counts, {
    pending: 8,
    classified: 3 + 2 + 4 + 6 + 10,
    ingested: 4 + 6 + 10,
    published: 10,
    failed: 7,
    needs_review: 2,
    compensated: 0,
    cancelled: 4,
    orphaned: 0,
  });
});

test('stages the batch does not run are never counted', () => {
  const counts = countsFromTally([{ stage: 'ingest', status: 'succeeded', n: 7 }], ['ingest']);
  assert.equal(counts.classified, 0);
  assert.equal(counts.ingested, 7);
  assert.equal(counts.published, 0);
});

test('undone items no longer count as ingested or published, but stay classified', () => {
  const counts = countsFromTally(
    [
      { stage: 'publish', status: 'compensated', n: 4 },
      { stage: 'publish', status: 'orphaned', n: 1 },
    ],
    ['classify', 'ingest', 'publish'],
  );
  assert.equal(counts.classified, 5);
  assert.equal(counts.ingested, 1);
  assert.equal(counts.published, 1, 'the orphaned item is still at the target');
  assert.equal(counts.compensated, 4);
});
