/**
 * One workflow per batch. It holds references and tallies only: items stay in the database and
 * travel to activities as ranges, and per-item outcomes are recorded by the activities, so the
 * workflow's state and each run's history stay bounded whatever the batch size.
 *
 * A batch goes through two phases. `run` dispatches chunks through the stages. When the batch is
 * cancelled or fails over its failure ratio, `compensate` undoes chunks, last first. Either phase
 * can continue as new.
 */
import * as wf from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  CANCEL_SIGNAL,
  CONFIGURE_UPDATE,
  emptyCost,
  emptyCounts,
  PAUSE_SIGNAL,
  PROGRESS_QUERY,
  RESUME_SIGNAL,
  RETRY_FAILED_UPDATE,
  REVIEWED_UPDATE,
  STAGES,
  type BatchStatus,
  type BatchSummary,
  type BatchWorkflowInput,
  type CancelSignal,
  type CarriedState,
  type CompensationScope,
  type ConfigurePatch,
  type ConfigureResult,
  type Cost,
  type Progress,
  type RetryFailedResult,
  type Stage,
  type StageOutcome,
  type StageRetry,
} from '../src/contracts/workflow';
import { BatchStatusKey, FailedCountKey } from '../src/temporal/search-attributes';
import { batchCurrentDetails, batchStaticSummary, chunkActivitySummary } from '../src/temporal/user-metadata';
import { webhookWorkflowIdFor } from '../src/contracts/webhook';
import { deliverWebhookWorkflow } from './webhook';

export const cancelSignal = wf.defineSignal<[CancelSignal]>(CANCEL_SIGNAL);
export const pauseSignal = wf.defineSignal(PAUSE_SIGNAL);
export const resumeSignal = wf.defineSignal(RESUME_SIGNAL);
export const progressQuery = wf.defineQuery<Progress>(PROGRESS_QUERY);
export const configureUpdate = wf.defineUpdate<ConfigureResult, [ConfigurePatch]>(CONFIGURE_UPDATE);
export const retryFailedUpdate = wf.defineUpdate<RetryFailedResult, []>(RETRY_FAILED_UPDATE);
/** A person resolved a review: the item's chunk runs again so its remaining stages run. */
export const reviewedUpdate = wf.defineUpdate<{ queued: boolean }, [{ seq: number }]>(REVIEWED_UPDATE);

/**
 * Continue-as-new once the server suggests it, or at this many events whatever the server says.
 * After the threshold the run only drains its in-flight chunks (at most 64 chunks × 3 stages ×
 * ~6 events), so no run comes near 10,240 events.
 */
const HISTORY_SOFT_LIMIT = 5_000;

/**
 * The saga (per-item undo, rollback, undo on cancel) came after the first recorded histories; runs
 * recorded before it replay without it.
 */
const SAGA_PATCH = 'saga-v1';

/** Completion webhooks came after the recorded histories: runs from before start no delivery. */
const WEBHOOK_PATCH = 'webhook-v1';

/**
 * Keeping the BatchStatus and FailedCount search attributes current while the batch runs came
 * after the recorded histories: runs from before only set them at the end.
 */
const VISIBILITY_PATCH = 'visibility-v1';

/**
 * The run's end waits for update handlers still at work (a retry-failed accepted in the last
 * moment resets items through an activity) before it counts: runs from before ended without.
 */
const HANDLERS_PATCH = 'handlers-before-end-v1';

/**
 * Review decisions are recorded in the database first and the run only nudged; each run picks up
 * decisions it was not told of at its start and before its end. Runs from before did not.
 */
const REVIEW_PICKUP_PATCH = 'review-pickup-v1';

/** Undo gets its own patient policy: giving up means an orphaned remote item. */
const COMPENSATION_ATTEMPTS = 8;

/** Bookkeeping activities are small database writes: retried until the database is back. */
const book = wf.proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

const undo = wf.proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: COMPENSATION_ATTEMPTS },
}).compensate;

function stageActivity(stage: Stage, r: StageRetry) {
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

/** The durable backoff before items that failed transiently are dispatched again. */
function backoffMs(r: StageRetry, attempt: number, retryAfterMs: number): number {
  const exponential = Math.min(r.maximumIntervalMs, r.initialIntervalMs * r.backoffCoefficient ** (attempt - 1));
  return Math.max(exponential, retryAfterMs);
}

export async function batchWorkflow(input: BatchWorkflowInput): Promise<BatchSummary> {
  const { batchId, tenantId, totalItems, options } = input;
  const stages = options.stages;
  const chunkCount = Math.ceil(totalItems / options.chunkSize);
  const saga = wf.patched(SAGA_PATCH);
  const visible = wf.patched(VISIBILITY_PATCH);
  const callStage = Object.fromEntries(stages.map((s) => [s, stageActivity(s, input.retry[s])])) as Record<Stage, ReturnType<typeof stageActivity>>;
  const state: CarriedState = input.carried ?? {
    nextChunk: input.redriveFinished ? chunkCount : 0,
    counts: emptyCounts(totalItems),
    startedAtMs: Date.now(),
    paused: false,
    maxParallelChunks: options.maxParallelChunks,
    maxFailureRatio: options.maxFailureRatio,
    cancelRequested: null,
    runs: 0,
  };
  state.runs += 1;
  state.phase ??= 'run';
  state.redrive ??= [];
  state.cost ??= emptyCost();
  let chunksDone = state.nextChunk;
  const inFlight = new Map<number, Stage | 'undo'>();
  const chunkPromises = new Set<Promise<void>>();
  let finalStatus: BatchStatus | null = null;
  /** Set once the run has decided how it ends: updates that would add work are refused after. */
  let closing = false;
  let rolledBack = false;
  const dispatch = new wf.CancellationScope();

  const stopRequested = (): boolean => state.cancelRequested !== null || state.failureRatioExceeded === true;

  wf.setHandler(cancelSignal, (signal) => {
    if (state.cancelRequested) return;
    state.cancelRequested = { rollback: signal.rollback ?? options.onCancel === 'rollback' };
    dispatch.cancel();
    report();
  });
  wf.setHandler(pauseSignal, () => {
    state.paused = true;
    report();
  });
  wf.setHandler(resumeSignal, () => {
    state.paused = false;
    report();
  });
  wf.setHandler(progressQuery, (): Progress => progress());
  wf.setHandler(
    configureUpdate,
    (patch): ConfigureResult => {
      if (patch.max_parallel_chunks !== undefined) state.maxParallelChunks = patch.max_parallel_chunks;
      if (patch.max_failure_ratio !== undefined) state.maxFailureRatio = patch.max_failure_ratio;
      checkFailureRatio();
      return { max_parallel_chunks: state.maxParallelChunks, max_failure_ratio: state.maxFailureRatio };
    },
    {
      validator: (patch) => {
        const n = patch.max_parallel_chunks;
        const r = patch.max_failure_ratio;
        if (n !== undefined && !(Number.isInteger(n) && n >= 1 && n <= 64)) throw new Error('max_parallel_chunks must be an integer from 1 to 64');
        if (r !== undefined && !(typeof r === 'number' && r >= 0 && r <= 1)) throw new Error('max_failure_ratio must be from 0 to 1');
        if (closing || state.phase !== 'run' || stopRequested()) throw new Error('the batch is stopping');
      },
    },
  );
  wf.setHandler(
    retryFailedUpdate,
    async (): Promise<RetryFailedResult> => {
      const reset = await book.resetFailed({ batchId, chunkSize: options.chunkSize, reopen: false, stages });
      state.counts.failed -= reset.items;
      state.counts.pending += reset.items;
      for (const c of reset.chunks) if (!state.redrive!.includes(c)) state.redrive!.push(c);
      report();
      return { retried: reset.items, chunks: reset.chunks.length };
    },
    {
      validator: () => {
        if (closing || state.phase !== 'run' || stopRequested()) throw new Error('the batch is stopping');
      },
    },
  );
  wf.setHandler(
    reviewedUpdate,
    ({ seq }) => {
      const chunk = Math.floor(seq / options.chunkSize);
      state.counts.needs_review -= 1;
      state.counts.pending += 1;
      if (!state.redrive!.includes(chunk)) state.redrive!.push(chunk);
      return { queued: true };
    },
    {
      validator: ({ seq }) => {
        if (!(Number.isInteger(seq) && seq >= 0 && seq < totalItems)) throw new Error('no such item');
        if (closing || state.phase !== 'run' || stopRequested()) throw new Error('the batch is stopping');
      },
    },
  );

  function status(): BatchStatus {
    if (finalStatus) return finalStatus;
    if (state.cancelRequested) return 'cancelling';
    if (state.paused && state.phase === 'run') return 'paused';
    return 'running';
  }

  /** The status as the Temporal UI shows it: the API's, plus the undo phase. */
  function uiStatus(): string {
    if (!finalStatus && state.phase === 'compensate') return 'compensating';
    return status();
  }

  /**
   * Tells the Temporal UI where the batch stands: the current details (no history event), and the
   * search attributes when they changed (one upsert event at most). Called on each chunk's end and
   * on each change of status, never per item, so a run's history grows by at most one event a chunk.
   */
  function report(): void {
    wf.setCurrentDetails(
      batchCurrentDetails({
        status: uiStatus(),
        phase: state.phase ?? 'run',
        paused: state.paused,
        cancelRequested: state.cancelRequested,
        failureRatioExceeded: state.failureRatioExceeded === true,
        totalItems,
        counts: state.counts,
        chunks: { total: chunkCount, done: chunksDone, inFlight: inFlight.size },
        maxParallelChunks: state.maxParallelChunks,
        runs: state.runs,
        summary: state.runs > 1 ? batchStaticSummary({ batchId, tenantId, totalItems, options }) : undefined,
      }),
    );
    if (!visible || finalStatus) return;
    const shown = wf.workflowInfo().typedSearchAttributes;
    const changed: Parameters<typeof wf.upsertSearchAttributes>[0] = [];
    if (shown.get(BatchStatusKey) !== uiStatus()) changed.push({ key: BatchStatusKey, value: uiStatus() });
    if (shown.get(FailedCountKey) !== state.counts.failed) changed.push({ key: FailedCountKey, value: state.counts.failed });
    if (changed.length > 0) wf.upsertSearchAttributes(changed);
  }

  function progress(): Progress {
    const c = state.counts;
    const finished = totalItems - c.pending;
    const elapsedS = Math.max(0.001, (Date.now() - state.startedAtMs) / 1000);
    const rate = finished / elapsedS;
    const stage = [...inFlight.values()].reduce<Stage | null>(
      (a, s) => (s === 'undo' ? a : a === null || STAGES.indexOf(s) > STAGES.indexOf(a) ? s : a),
      null,
    );
    return {
      status: status(),
      total_items: totalItems,
      counts: { ...c },
      progress_percent: totalItems === 0 ? 100 : Math.round((finished / totalItems) * 1000) / 10,
      stage,
      eta_seconds: c.pending === 0 ? 0 : rate > 0 ? Math.ceil(c.pending / rate) : null,
      items_per_second: Math.round(rate * 10) / 10,
      chunks: { total: chunkCount, done: chunksDone, in_flight: inFlight.size },
      max_parallel_chunks: state.maxParallelChunks,
      max_failure_ratio: state.maxFailureRatio,
      rolled_back: rolledBack,
      started_at: new Date(state.startedAtMs).toISOString(),
      cost: { total: Math.round(state.cost!.total * 1e4) / 1e4, by_tier: { ...state.cost!.by_tier } },
    };
  }

  function checkFailureRatio(): void {
    if (totalItems > 0 && state.counts.failed / totalItems > state.maxFailureRatio) state.failureRatioExceeded = true;
  }

  /** Adds what a stage call changed since the previous call for the same chunk and stage. */
  function tally(stage: Stage, now: StageOutcome, before: StageOutcome['before'] | null, last: boolean): void {
    const d = (k: 'succeeded' | 'failed' | 'needsReview'): number => now[k] - (before?.[k] ?? 0);
    const c = state.counts;
    if (stage === 'classify') c.classified += d('succeeded') + d('needsReview');
    if (stage === 'ingest') c.ingested += d('succeeded');
    if (stage === 'publish') c.published += d('succeeded');
    c.failed += d('failed');
    c.needs_review += d('needsReview');
    c.pending -= d('failed') + d('needsReview') + (last ? d('succeeded') : 0);
    if (now.cost) addCost(now.cost, before?.cost);
    checkFailureRatio();
  }

  function addCost(now: Cost, before: Cost | undefined): void {
    const cost = state.cost!;
    cost.total += now.total - (before?.total ?? 0);
    for (const [tier, n] of Object.entries(now.by_tier)) cost.by_tier[tier] = (cost.by_tier[tier] ?? 0) + n - (before?.by_tier[tier] ?? 0);
  }

  async function compensateFailed(range: { from: number; to: number }): Promise<void> {
    const summary = chunkActivitySummary('undo', Math.floor(range.from / options.chunkSize), chunkCount, range.to - range.from, 1, 'its failed items');
    const out = await wf.CancellationScope.nonCancellable(() =>
      undo.executeWithOptions({ summary }, [{ batchId, tenantId, range, scope: 'failed', maxAttempts: COMPENSATION_ATTEMPTS }]),
    );
    state.counts.failed -= out.orphaned;
    state.counts.orphaned += out.orphaned;
  }

  /**
   * `redriven`: the chunk ran before, so items that passed a stage then are already counted; the
   * first call of each stage tallies against the chunk as it stood, not against nothing.
   */
  async function runChunk(index: number, redriven = false): Promise<void> {
    const range = { from: index * options.chunkSize, to: Math.min(totalItems, (index + 1) * options.chunkSize) };
    let stage: Stage = stages[0]!;
    try {
      for (const [i, s] of stages.entries()) {
        stage = s;
        inFlight.set(index, stage);
        const last = i === stages.length - 1;
        const r = input.retry[stage];
        const maxAttempts = r.maximumAttempts > 0 ? r.maximumAttempts : Number.MAX_SAFE_INTEGER;
        let outcome: StageOutcome | null = null;
        for (let attempt = 1; ; attempt++) {
          const next: StageOutcome = await callStage[stage].executeWithOptions({ summary: chunkActivitySummary(stage, index, chunkCount, range.to - range.from, attempt) }, [
            { batchId, tenantId, stage, previousStage: i === 0 ? null : stages[i - 1]!, lastStage: last, range, chunkIndex: index, chunkCount, attempt, maxAttempts },
          ]);
          tally(stage, next, outcome ?? (redriven ? (next.before ?? null) : null), last);
          outcome = next;
          // Items that failed transiently come back after a durable backoff; the others wait.
          if (!(outcome.transient > 0) || stopRequested()) break;
          await wf.sleep(backoffMs(r, attempt, outcome.retryAfterMs));
        }
        // Items that failed here may have been staged or published by earlier stages, or (a
        // publish without a definite answer) by this one: undo that.
        const mayHaveEffects = stage === 'publish' || stages.slice(0, i).some((s) => s !== 'classify');
        if (saga && outcome.failed > 0 && mayHaveEffects) await compensateFailed(range);
        if (outcome.succeeded === 0 && !last) break;
      }
    } catch (err) {
      if (!wf.isCancellation(err)) {
        // The stage call failed as a whole after its retries: its unfinished items fail with it.
        const cause = err instanceof wf.ActivityFailure && err.cause ? err.cause : (err as Error);
        const code = cause instanceof wf.ApplicationFailure && cause.type ? cause.type : 'stage_failed';
        // A permanent failure (the activity said so, or its type is listed as permanent) is not
        // worth a redrive as it is; one that used up its retries (an outage) may pass later.
        const permanent = cause instanceof wf.ApplicationFailure && (cause.nonRetryable || (!!cause.type && input.retry[stage].nonRetryableErrorTypes.includes(cause.type)));
        const exhausted = err instanceof wf.ActivityFailure && err.retryState === 'MAXIMUM_ATTEMPTS_REACHED';
        // Recorded even if a cancel arrives meanwhile: these items did fail.
        const n = await wf.CancellationScope.nonCancellable(() =>
          book.failRange({ batchId, range, stage, code, message: cause.message, attempts: exhausted ? input.retry[stage].maximumAttempts : 1, retryable: !permanent }),
        );
        state.counts.failed += n;
        state.counts.pending -= n;
        checkFailureRatio();
        if (saga && n > 0) await compensateFailed(range);
      }
    } finally {
      inFlight.delete(index);
      chunksDone++;
      report();
    }
  }

  const shouldContinueAsNew = (): boolean => {
    const info = wf.workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > (input.historyLimit ?? HISTORY_SOFT_LIMIT);
  };

  /** The next chunk to run: a redriven one (once it is not in flight), else the next new one. */
  function nextChunk(): { index: number; redriven: boolean } | undefined {
    const redrive = state.redrive!.findIndex((c) => !inFlight.has(c));
    if (redrive >= 0) return { index: state.redrive!.splice(redrive, 1)[0]!, redriven: true };
    if (state.nextChunk < chunkCount) return { index: state.nextChunk++, redriven: false };
    return undefined;
  }
  const hasWork = (): boolean => state.nextChunk < chunkCount || state.redrive!.some((c) => !inFlight.has(c));

  function launch(index: number, work: (i: number) => Promise<void>): void {
    const p: Promise<void> = work(index).finally(() => chunkPromises.delete(p));
    chunkPromises.add(p);
  }

  // ---- phase 1: run -------------------------------------------------------------------------
  if (state.phase === 'run') {
    try {
      if (!input.carried) {
        if (input.redriveFinished) {
          const reset = await book.resetFailed({ batchId, chunkSize: options.chunkSize, reopen: true, stages, keepFailed: input.keepFailed === true });
          state.counts = reset.counts;
          state.redrive = reset.chunks;
          if (reset.cost) state.cost = reset.cost;
        } else {
          await book.markBatchStarted(batchId);
        }
      } else if (wf.patched(REVIEW_PICKUP_PATCH)) {
        // A decision made while the previous run was handing over was refused by it: run it here.
        await pickUpReviews();
      }
      report();
      await dispatch.run(async () => {
        for (;;) {
          await wf.condition(
            () => stopRequested() || shouldContinueAsNew() || (!state.paused && chunkPromises.size < state.maxParallelChunks && hasWork()) || (!hasWork() && chunkPromises.size === 0),
          );
          if (stopRequested() || shouldContinueAsNew()) break;
          const next = hasWork() ? nextChunk() : undefined;
          if (next === undefined) break;
          launch(next.index, (i) => runChunk(i, next.redriven));
        }
      });
    } catch (err) {
      if (!wf.isCancellation(err)) throw err;
      // A cancel from the Temporal UI or CLI lands here; a cancel signal cancels `dispatch` only.
      state.cancelRequested ??= { rollback: options.onCancel === 'rollback', external: true };
    }
    await wf.CancellationScope.nonCancellable(() => Promise.all([...chunkPromises]));
    if (wf.patched(HANDLERS_PATCH)) {
      // No update is accepted from here; one already accepted may still put items back in line,
      // and those must run, not be counted as pending by finishBatch.
      closing = true;
      // Not cancellable: after a cancel from the Temporal UI or CLI this scope is cancelled, and
      // the batch still has to wait, undo and record its end.
      await wf.CancellationScope.nonCancellable(() => wf.condition(wf.allHandlersFinished));
    }
    // Decisions recorded while this run went on but never announced to it (the nudge failed): a
    // fresh run takes them. One decided later than this finds the run closed and starts a redrive.
    if (!stopRequested() && wf.patched(REVIEW_PICKUP_PATCH)) await pickUpReviews();
    if (!stopRequested() && (state.nextChunk < chunkCount || state.redrive.length > 0)) return continueAsNew();
    closing = true;
    if (saga && stopRequested()) {
      const scope: CompensationScope = state.cancelRequested && !state.cancelRequested.rollback ? 'unfinished' : 'all';
      state.phase = 'compensate';
      state.compensation = { scope: scope as 'unfinished' | 'all', next: state.nextChunk - 1 };
      report();
    }
  }

  // ---- phase 2: compensate, last chunk first -----------------------------------------------
  if (state.phase === 'compensate') {
    const comp = state.compensation!;
    report();
    // Not cancellable: once undo has begun, a second cancel must not leave it half done.
    await wf.CancellationScope.nonCancellable(async () => {
      while (comp.next >= 0) {
        await wf.condition(() => shouldContinueAsNew() || chunkPromises.size < state.maxParallelChunks);
        if (shouldContinueAsNew()) break;
        launch(comp.next--, async (index) => {
          inFlight.set(index, 'undo');
          try {
            const range = { from: index * options.chunkSize, to: Math.min(totalItems, (index + 1) * options.chunkSize) };
            const out = await undo.executeWithOptions({ summary: chunkActivitySummary('undo', index, chunkCount, range.to - range.from, 1, comp.scope === 'all' ? 'rollback' : 'its unfinished items') }, [
              { batchId, tenantId, range, scope: comp.scope, maxAttempts: COMPENSATION_ATTEMPTS },
            ]);
            state.counts.orphaned += out.orphaned;
            state.counts.compensated += out.undone;
          } finally {
            inFlight.delete(index);
            report();
          }
        });
      }
      await Promise.all([...chunkPromises]);
    });
    if (comp.next >= 0) return continueAsNew();
    rolledBack = comp.scope === 'all';
  }

  // ---- the end: every item final, the row says how the batch ended --------------------------
  const summary = await wf.CancellationScope.nonCancellable(async () => {
    const final: BatchStatus = state.cancelRequested
      ? 'cancelled'
      : state.failureRatioExceeded
        ? 'failed'
        : state.counts.failed + state.counts.needs_review + state.counts.orphaned > 0
          ? 'partial'
          : 'completed';
    const error = state.failureRatioExceeded && !state.cancelRequested
      ? { code: 'failure_ratio_exceeded', message: `more than ${state.maxFailureRatio * 100}% of items failed` }
      : null;
    const { counts, cost } = await book.finishBatch({ batchId, status: final, counts: state.counts, rolledBack, error, stages });
    state.counts = counts;
    if (cost) state.cost = cost;
    // Rolled back means nothing was left behind; orphans say otherwise (and are listed per item).
    // The row takes the same answer through finishBatch, which sees the same counts.
    rolledBack = rolledBack && counts.orphaned === 0;
    finalStatus = final;
    report();
    wf.upsertSearchAttributes([
      { key: BatchStatusKey, value: final },
      { key: FailedCountKey, value: counts.failed },
    ]);
    return { batchId, status: final, counts, rolledBack, cost: state.cost } satisfies BatchSummary;
  });
  if (input.webhook && wf.patched(WEBHOOK_PATCH)) await notify(summary);
  if (state.cancelRequested?.external) throw new wf.CancelledFailure('batch cancelled');
  return summary;

  /**
   * Starts the completion webhook's delivery as a workflow of its own (abandoned on close): this
   * run ends now, however long the receiver takes. One delivery per run that finishes, so a
   * redrive that finishes again notifies again. Not cancellable: a batch cancelled from the UI
   * still reports its end.
   */
  async function notify(s: BatchSummary): Promise<void> {
    const workflowId = webhookWorkflowIdFor(batchId, wf.workflowInfo().runId);
    try {
      await wf.CancellationScope.nonCancellable(() =>
        wf.startChild(deliverWebhookWorkflow, {
          workflowId,
          args: [{ batchId, deliveryId: workflowId, status: s.status, counts: s.counts, cost: s.cost ?? emptyCost(), rolledBack: s.rolledBack, finishedAt: new Date().toISOString() }],
          parentClosePolicy: wf.ParentClosePolicy.ABANDON,
        }),
      );
    } catch (err) {
      // The batch's end is recorded either way; a delivery that could not start is only logged.
      wf.log.error('could not start the completion webhook', { batchId, workflowId, error: (err as Error).message });
    }
  }

  /** Puts the chunks of unannounced review decisions in line; nothing runs meanwhile, so the database's counts are the truth. */
  async function pickUpReviews(): Promise<void> {
    const found = await book.pickUpReviews({ batchId, chunkSize: options.chunkSize, stages });
    if (found.chunks.length === 0) return;
    for (const c of found.chunks) if (!state.redrive!.includes(c)) state.redrive!.push(c);
    if (found.counts) state.counts = found.counts;
    report();
  }

  /** Hands over to a fresh run with the tallies: the history starts again from empty. */
  async function continueAsNew(): Promise<never> {
    closing = true;
    await book.saveSnapshot({ batchId, status: status(), counts: state.counts });
    await wf.condition(wf.allHandlersFinished);
    return wf.continueAsNew<typeof batchWorkflow>({ ...input, redriveFinished: false, carried: state });
  }
}
