/**
 * One workflow per batch. It holds references and tallies only: items stay in the database and
 * travel to activities as ranges, and per-item outcomes are recorded by the activities, so the
 * workflow's state and each run's history stay bounded whatever the batch size.
 */
import * as wf from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  CANCEL_SIGNAL,
  emptyCounts,
  PROGRESS_QUERY,
  STAGES,
  type BatchStatus,
  type BatchSummary,
  type BatchWorkflowInput,
  type CancelSignal,
  type CarriedState,
  type Progress,
  type Stage,
  type StageOutcome,
  type StageRetry,
} from '../src/contracts/workflow';
import { BatchStatusKey, FailedCountKey } from '../src/temporal/search-attributes';

export const cancelSignal = wf.defineSignal<[CancelSignal]>(CANCEL_SIGNAL);
export const progressQuery = wf.defineQuery<Progress>(PROGRESS_QUERY);

/**
 * Continue-as-new once the server suggests it, or at this many events whatever the server says.
 * After the threshold the run only drains its in-flight chunks (at most 64 chunks × 3 stages ×
 * ~6 events), so no run comes near 10,240 events.
 */
const HISTORY_SOFT_LIMIT = 5_000;

/** Bookkeeping activities are small database writes: retried until the database is back. */
const book = wf.proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

function stageActivities(stage: Stage, r: StageRetry) {
  return wf.proxyActivities<Activities>({
    startToCloseTimeout: r.startToCloseTimeoutMs,
    heartbeatTimeout: r.heartbeatTimeoutMs,
    // Wait for a cancelled chunk to record what it did, so nothing it wrote lands after the
    // batch's final bookkeeping.
    cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: r.initialIntervalMs,
      backoffCoefficient: r.backoffCoefficient,
      maximumInterval: r.maximumIntervalMs,
      maximumAttempts: r.maximumAttempts,
      nonRetryableErrorTypes: r.nonRetryableErrorTypes,
    },
  })[stage];
}

export async function batchWorkflow(input: BatchWorkflowInput): Promise<BatchSummary> {
  const { batchId, tenantId, totalItems, options } = input;
  const stages = options.stages;
  const chunkCount = Math.ceil(totalItems / options.chunkSize);
  const callStage = Object.fromEntries(stages.map((s) => [s, stageActivities(s, input.retry[s])])) as Record<Stage, ReturnType<typeof stageActivities>>;
  const state: CarriedState = input.carried ?? {
    nextChunk: 0,
    counts: emptyCounts(totalItems),
    startedAtMs: Date.now(),
    paused: false,
    maxParallelChunks: options.maxParallelChunks,
    maxFailureRatio: options.maxFailureRatio,
    cancelRequested: null,
    runs: 0,
  };
  state.runs += 1;
  let chunksDone = state.nextChunk;
  const inFlight = new Map<number, Stage>();
  const chunkPromises = new Set<Promise<void>>();
  let status: BatchStatus = 'running';
  let failureRatioExceeded = false;
  const dispatch = new wf.CancellationScope();

  wf.setHandler(cancelSignal, (signal) => {
    if (state.cancelRequested) return;
    state.cancelRequested = { rollback: signal.rollback ?? options.onCancel === 'rollback' };
    status = 'cancelling';
    dispatch.cancel();
  });
  wf.setHandler(progressQuery, (): Progress => progress());

  function progress(): Progress {
    const c = state.counts;
    const finished = totalItems - c.pending;
    const elapsedS = Math.max(0.001, (Date.now() - state.startedAtMs) / 1000);
    const rate = finished / elapsedS;
    const stage = [...inFlight.values()].reduce<Stage | null>((a, s) => (a === null || STAGES.indexOf(s) > STAGES.indexOf(a) ? s : a), null);
    return {
      status,
      total_items: totalItems,
      counts: { ...c },
      progress_percent: totalItems === 0 ? 100 : Math.round((finished / totalItems) * 1000) / 10,
      stage,
      eta_seconds: c.pending === 0 ? 0 : rate > 0 ? Math.ceil(c.pending / rate) : null,
      items_per_second: Math.round(rate * 10) / 10,
      chunks: { total: chunkCount, done: chunksDone, in_flight: inFlight.size },
      max_parallel_chunks: state.maxParallelChunks,
      max_failure_ratio: state.maxFailureRatio,
      rolled_back: false,
      started_at: new Date(state.startedAtMs).toISOString(),
    };
  }

  function tally(stage: Stage, outcome: StageOutcome, last: boolean): void {
    const c = state.counts;
    if (stage === 'classify') c.classified += outcome.succeeded + outcome.needsReview;
    if (stage === 'ingest') c.ingested += outcome.succeeded;
    if (stage === 'publish') c.published += outcome.succeeded;
    c.failed += outcome.failed;
    c.needs_review += outcome.needsReview;
    c.pending -= outcome.failed + outcome.needsReview + (last ? outcome.succeeded : 0);
    if (totalItems > 0 && c.failed / totalItems > state.maxFailureRatio) failureRatioExceeded = true;
  }

  async function runChunk(index: number): Promise<void> {
    const range = { from: index * options.chunkSize, to: Math.min(totalItems, (index + 1) * options.chunkSize) };
    try {
      for (const [i, stage] of stages.entries()) {
        inFlight.set(index, stage);
        const last = i === stages.length - 1;
        const outcome = await callStage[stage]({
          batchId, tenantId, stage, previousStage: i === 0 ? null : stages[i - 1]!, lastStage: last, range, chunkIndex: index, chunkCount,
        });
        tally(stage, outcome, last);
        // Nothing carried forward: later stages would only read the chunk to find no work.
        if (outcome.succeeded === 0 && !last) {
          break;
        }
      }
    } catch (err) {
      if (!wf.isCancellation(err)) {
        // The stage call failed as a whole after its retries: its unfinished items fail with it.
        const stage = inFlight.get(index)!;
        const cause = err instanceof wf.ActivityFailure && err.cause ? err.cause : (err as Error);
        const code = cause instanceof wf.ApplicationFailure && cause.type ? cause.type : 'stage_failed';
        // Recorded even if a cancel arrives meanwhile: these items did fail.
        const n = await wf.CancellationScope.nonCancellable(() =>
          book.failRange({ batchId, range, stage, code, message: cause.message, attempts: input.retry[stage].maximumAttempts }),
        );
        state.counts.failed += n;
        state.counts.pending -= n;
        if (totalItems > 0 && state.counts.failed / totalItems > state.maxFailureRatio) failureRatioExceeded = true;
      }
    } finally {
      inFlight.delete(index);
      chunksDone++;
    }
  }

  const shouldContinueAsNew = (): boolean => {
    const info = wf.workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > (input.historyLimit ?? HISTORY_SOFT_LIMIT);
  };
  const stopping = (): boolean => state.cancelRequested !== null || failureRatioExceeded || shouldContinueAsNew();

  let cancelledFromOutside = false;
  try {
    if (!input.carried) await book.markBatchStarted(batchId);
    await dispatch.run(async () => {
      while (state.nextChunk < chunkCount) {
        await wf.condition(() => stopping() || (!state.paused && chunkPromises.size < state.maxParallelChunks));
        if (stopping()) break;
        const index = state.nextChunk++;
        const p: Promise<void> = runChunk(index).finally(() => chunkPromises.delete(p));
        chunkPromises.add(p);
      }
    });
  } catch (err) {
    if (!wf.isCancellation(err)) throw err;
    // A cancel from the Temporal UI or CLI lands here; a cancel signal cancels `dispatch` only.
    if (!state.cancelRequested) {
      state.cancelRequested = { rollback: options.onCancel === 'rollback' };
      cancelledFromOutside = true;
    }
    status = 'cancelling';
  }

  // Everything from here runs to the end even when the workflow itself was cancelled: a batch's
  // items must each end in a final state and the database must say how the batch ended.
  const summary = await wf.CancellationScope.nonCancellable(async () => {
    await Promise.all([...chunkPromises]);
    if (!state.cancelRequested && !failureRatioExceeded && state.nextChunk < chunkCount) return null;
    const final: BatchStatus = state.cancelRequested
      ? 'cancelled'
      : failureRatioExceeded
        ? 'failed'
        : state.counts.failed + state.counts.needs_review + state.counts.orphaned > 0
          ? 'partial'
          : 'completed';
    const error = failureRatioExceeded ? { code: 'failure_ratio_exceeded', message: `more than ${state.maxFailureRatio * 100}% of items failed` } : null;
    const { counts } = await book.finishBatch({ batchId, status: final, counts: state.counts, rolledBack: false, error, stages });
    state.counts = counts;
    status = final;
    wf.upsertSearchAttributes([
      { key: BatchStatusKey, value: final },
      { key: FailedCountKey, value: counts.failed },
    ]);
    return { batchId, status: final, counts, rolledBack: false } satisfies BatchSummary;
  });

  if (summary === null) {
    // More chunks remain and this run's history is getting long: hand over to a fresh run.
    await book.saveSnapshot({ batchId, status, counts: state.counts });
    await wf.condition(wf.allHandlersFinished);
    return wf.continueAsNew<typeof batchWorkflow>({ ...input, carried: state });
  }
  if (cancelledFromOutside) throw new wf.CancelledFailure('batch cancelled');
  return summary;
}
