/**
 * The batch workflow's arithmetic (workflows/batch/state.ts), without Temporal: tallies across
 * stages and repeated calls, a redriven chunk's tally, the failure ratio, progress, backoff, the
 * next chunk with redrive, and how a batch ends.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BatchWorkflowInput, StageOutcome, StageRetry } from '../../src/contracts/workflow';
import {
  acceptsWork,
  backoffMs,
  chunkRange,
  countCompensated,
  countFailedRange,
  countFailedUndone,
  countRetried,
  countReviewed,
  finalError,
  finalStatus,
  hasWork,
  hasWorkLeft,
  initialState,
  mayHaveEffects,
  maxAttemptsOf,
  nextChunk,
  progress,
  startCompensation,
  status,
  stopRequested,
  tally,
  uiStatus,
} from '../../workflows/batch/state';

const RETRY: StageRetry = {
  initialIntervalMs: 1_000,
  backoffCoefficient: 2,
  maximumIntervalMs: 10_000,
  maximumAttempts: 5,
  nonRetryableErrorTypes: [],
  startToCloseTimeoutMs: 60_000,
  heartbeatTimeoutMs: 10_000,
};

function input(over: Partial<BatchWorkflowInput> = {}): BatchWorkflowInput {
  return {
    batchId: 'b_1',
    tenantId: 't_1',
    totalItems: 10,
    options: {
      stages: ['classify', 'ingest', 'publish'],
      chunkSize: 4,
      maxParallelChunks: 2,
      priority: 'normal',
      onCancel: 'keep',
      maxFailureRatio: 0.5,
    },
    retry: { classify: RETRY, ingest: RETRY, publish: RETRY },
    ...over,
  };
}

function outcome(succeeded: number, failed = 0, needsReview = 0, extra: Partial<StageOutcome> = {}): StageOutcome {
  return { succeeded, failed, needsReview, alreadyDone: 0, transient: 0, retryAfterMs: 0, ...extra };
}

describe('the state a run starts with', () => {
  test('a new batch: every item pending, no chunk done, run 1', () => {
    const s = initialState(input(), 1_000);
    assert.equal(s.chunkCount, 3);
    assert.equal(s.carried.counts.pending, 10);
    assert.equal(s.carried.nextChunk, 0);
    assert.equal(s.carried.runs, 1);
    assert.equal(s.carried.phase, 'run');
    assert.deepEqual(s.carried.redrive, []);
    assert.equal(s.carried.startedAtMs, 1_000);
    assert.deepEqual(chunkRange(s, 2), { from: 8, to: 10 }, 'the last chunk is shorter');
  });

  test('a redrive of a finished batch starts no new chunk', () => {
    const s = initialState(input({ redriveFinished: true }), 0);
    assert.equal(s.carried.nextChunk, 3);
    assert.equal(hasWork(s), false);
  });

  test('a continued run takes the carried state and counts itself', () => {
    const first = initialState(input(), 0);
    first.carried.nextChunk = 2;
    const s = initialState(input({ carried: first.carried }), 99);
    assert.equal(s.carried.runs, 2);
    assert.equal(s.chunksDone, 2);
    assert.equal(s.carried.startedAtMs, 0, 'the batch started with its first run');
  });
});

describe('tally', () => {
  test('counts each stage, and only the last stage makes an item final', () => {
    const s = initialState(input(), 0);
    tally(s, 'classify', outcome(3, 0, 1), null, false);
    assert.equal(s.carried.counts.classified, 4, 'items parked for review were classified too');
    assert.equal(s.carried.counts.needs_review, 1);
    assert.equal(s.carried.counts.pending, 9, 'only the review left the pending ones');
    tally(s, 'ingest', outcome(2, 1), null, false);
    assert.equal(s.carried.counts.ingested, 2);
    assert.equal(s.carried.counts.failed, 1);
    assert.equal(s.carried.counts.pending, 8);
    tally(s, 'publish', outcome(2), null, true);
    assert.equal(s.carried.counts.published, 2);
    assert.equal(s.carried.counts.pending, 6);
  });

  test('a second call of the same stage adds only what changed since the first (calls report cumulative tallies)', () => {
    const s = initialState(input(), 0);
    const first = outcome(2, 0, 0, { transient: 2 });
    tally(s, 'publish', first, null, true);
    tally(s, 'publish', outcome(3, 1), first, true);
    assert.equal(s.carried.counts.published, 3);
    assert.equal(s.carried.counts.failed, 1);
    assert.equal(s.carried.counts.pending, 6);
  });

  test('a redriven chunk counts against where it stood, not from nothing', () => {
    const s = initialState(input(), 0);
    s.carried.counts = { ...s.carried.counts, pending: 1, classified: 4, ingested: 4, published: 3, failed: 0 };
    // The chunk ran before: 3 of its 4 items already published; the redrive publishes the fourth.
    const now = outcome(4, 0, 0, { before: { succeeded: 3, failed: 0, needsReview: 0 } });
    tally(s, 'publish', now, now.before!, true);
    assert.equal(s.carried.counts.published, 4);
    assert.equal(s.carried.counts.pending, 0);
  });

  test('cost adds up per tier, and a repeated call adds only its difference', () => {
    const s = initialState(input(), 0);
    const first = outcome(2, 0, 0, { cost: { total: 0.5, by_tier: { rules: 1, model: 1 } } });
    tally(s, 'classify', first, null, false);
    tally(s, 'classify', outcome(3, 0, 0, { cost: { total: 0.75, by_tier: { rules: 1, model: 2 } } }), first, false);
    assert.deepEqual(s.carried.cost, { total: 0.75, by_tier: { rules: 1, model: 2 } });
  });

  test('failed ranges, undone failures and compensated chunks', () => {
    const s = initialState(input(), 0);
    countFailedRange(s, 4);
    assert.equal(s.carried.counts.failed, 4);
    assert.equal(s.carried.counts.pending, 6);
    countFailedUndone(s, { undone: 3, orphaned: 1 });
    assert.equal(s.carried.counts.failed, 3, 'an item whose undo failed is orphaned, not failed');
    assert.equal(s.carried.counts.orphaned, 1);
    countCompensated(s, { undone: 2, orphaned: 1 });
    assert.equal(s.carried.counts.compensated, 2);
    assert.equal(s.carried.counts.orphaned, 2);
  });
});

describe('the failure ratio', () => {
  test('exceeded only above the ratio, and then the batch stops', () => {
    const s = initialState(input(), 0);
    countFailedRange(s, 5);
    assert.equal(stopRequested(s), false, '5 of 10 is not more than 0.5');
    countFailedRange(s, 1);
    assert.equal(s.carried.failureRatioExceeded, true);
    assert.equal(stopRequested(s), true);
    assert.equal(acceptsWork(s), false);
  });

  test('a retry-failed puts items back without clearing a stop already decided', () => {
    const s = initialState(input(), 0);
    countFailedRange(s, 6);
    countRetried(s, 6, [0, 1]);
    assert.equal(s.carried.counts.failed, 0);
    assert.equal(s.carried.failureRatioExceeded, true);
  });
});

describe('progress', () => {
  test('percent, rate and eta from the finished items and the elapsed time', () => {
    const s = initialState(input(), 0);
    tally(s, 'classify', outcome(4), null, false);
    tally(s, 'ingest', outcome(4), null, false);
    tally(s, 'publish', outcome(4), null, true);
    s.inFlight.set(1, 'ingest');
    s.inFlight.set(2, 'classify');
    const p = progress(s, 2_000);
    assert.equal(p.progress_percent, 40);
    assert.equal(p.items_per_second, 2);
    assert.equal(p.eta_seconds, 3);
    assert.equal(p.stage, 'ingest', 'the deepest stage at work');
    assert.deepEqual(p.chunks, { total: 3, done: 0, in_flight: 2 });
    assert.equal(p.status, 'running');
    assert.equal(p.started_at, new Date(0).toISOString());
  });

  test('no eta before anything finished; 0 once nothing is pending; 100% for an empty batch', () => {
    const s = initialState(input(), 0);
    assert.equal(progress(s, 1_000).eta_seconds, null);
    countFailedRange(s, 10);
    assert.equal(progress(s, 1_000).eta_seconds, 0);
    assert.equal(progress(initialState(input({ totalItems: 0 }), 0), 0).progress_percent, 100);
  });

  test('undo is not a stage', () => {
    const s = initialState(input(), 0);
    s.inFlight.set(0, 'undo');
    assert.equal(progress(s, 1).stage, null);
  });
});

describe('backoff and attempts', () => {
  test('exponential, capped at the maximum interval, never shorter than Retry-After', () => {
    assert.equal(backoffMs(RETRY, 1, 0), 1_000);
    assert.equal(backoffMs(RETRY, 3, 0), 4_000);
    assert.equal(backoffMs(RETRY, 10, 0), 10_000);
    assert.equal(backoffMs(RETRY, 1, 30_000), 30_000);
  });

  test('maximumAttempts 0 is no limit', () => {
    assert.equal(maxAttemptsOf(RETRY), 5);
    assert.equal(maxAttemptsOf({ ...RETRY, maximumAttempts: 0 }), Number.MAX_SAFE_INTEGER);
  });

  test('failed items may have effects to undo once a stage other than classify ran, or at publish', () => {
    assert.equal(mayHaveEffects(['classify', 'ingest', 'publish'], 0), false);
    assert.equal(mayHaveEffects(['classify', 'ingest', 'publish'], 1), false);
    assert.equal(mayHaveEffects(['classify', 'ingest', 'publish'], 2), true);
    assert.equal(mayHaveEffects(['ingest', 'classify'], 1), true);
    assert.equal(mayHaveEffects(['publish'], 0), true);
  });
});

describe('the next chunk', () => {
  test('new chunks in order, then none', () => {
    const s = initialState(input(), 0);
    assert.deepEqual(
      [nextChunk(s), nextChunk(s), nextChunk(s), nextChunk(s)],
      [{ index: 0, redriven: false }, { index: 1, redriven: false }, { index: 2, redriven: false }, undefined],
    );
    assert.equal(hasWorkLeft(s), false);
  });

  test('a redriven chunk goes first, each once, but not while it is still in flight', () => {
    const s = initialState(input(), 0);
    s.carried.nextChunk = 2;
    s.inFlight.set(0, 'publish');
    countRetried(s, 2, [0, 1, 0]);
    assert.deepEqual(s.carried.redrive, [0, 1], 'each chunk queued once');
    assert.deepEqual(nextChunk(s), { index: 1, redriven: true });
    assert.deepEqual(nextChunk(s), { index: 2, redriven: false }, 'chunk 0 is in flight: a new chunk meanwhile');
    assert.equal(hasWork(s), false, 'only chunk 0 is left, and it is in flight');
    assert.equal(hasWorkLeft(s), true);
    s.inFlight.delete(0);
    assert.deepEqual(nextChunk(s), { index: 0, redriven: true });
    assert.equal(hasWorkLeft(s), false);
  });

  test('a resolved review puts its item back and queues its chunk', () => {
    const s = initialState(input(), 0);
    s.carried.counts.needs_review = 1;
    s.carried.counts.pending = 9;
    countReviewed(s, 9);
    assert.equal(s.carried.counts.needs_review, 0);
    assert.equal(s.carried.counts.pending, 10);
    assert.deepEqual(s.carried.redrive, [2]);
    assert.equal(hasWorkLeft(s), true);
  });
});

describe('status and the end', () => {
  test('running, paused, cancelling; compensating only in the UI', () => {
    const s = initialState(input(), 0);
    assert.equal(status(s), 'running');
    s.carried.paused = true;
    assert.equal(status(s), 'paused');
    s.carried.cancelRequested = { rollback: false };
    assert.equal(status(s), 'cancelling');
    startCompensation(s);
    assert.equal(status(s), 'cancelling');
    assert.equal(uiStatus(s), 'compensating');
    assert.equal(acceptsWork(s), false);
  });

  test('compensation: keep undoes the unfinished, rollback and the failure ratio everything, from the last chunk started', () => {
    const keep = initialState(input(), 0);
    keep.carried.nextChunk = 2;
    keep.carried.cancelRequested = { rollback: false };
    startCompensation(keep);
    assert.deepEqual(keep.carried.compensation, { scope: 'unfinished', next: 1 });
    const rollback = initialState(input(), 0);
    rollback.carried.cancelRequested = { rollback: true };
    startCompensation(rollback);
    assert.equal(rollback.carried.compensation?.scope, 'all');
    const ratio = initialState(input(), 0);
    countFailedRange(ratio, 6);
    startCompensation(ratio);
    assert.equal(ratio.carried.compensation?.scope, 'all');
  });

  test('completed, partial, failed, cancelled; the error only for the failure ratio', () => {
    const s = initialState(input(), 0);
    assert.equal(finalStatus(s), 'completed');
    s.carried.counts.needs_review = 1;
    assert.equal(finalStatus(s), 'partial');
    countFailedRange(s, 6);
    assert.equal(finalStatus(s), 'failed');
    assert.deepEqual(finalError(s), { code: 'failure_ratio_exceeded', message: 'more than 50% of items failed' });
    s.carried.cancelRequested = { rollback: true };
    assert.equal(finalStatus(s), 'cancelled', 'a cancel wins over the failure ratio');
    assert.equal(finalError(s), null);
    s.finalStatus = 'cancelled';
    assert.equal(status(s), 'cancelled');
    assert.equal(uiStatus(s), 'cancelled');
  });

  test('orphans make a batch partial', () => {
    const s = initialState(input(), 0);
    countCompensated(s, { undone: 0, orphaned: 1 });
    assert.equal(finalStatus(s), 'partial');
  });
});
