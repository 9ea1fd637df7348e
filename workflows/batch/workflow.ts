/**
 * One workflow per batch. It holds references and tallies only: items stay in the database and
 * travel to activities as ranges, and per-item outcomes are recorded by the activities, so the
 * workflow's state and each run's history stay bounded whatever the batch size.
 *
 * A batch goes through two phases. `run` dispatches chunks through the stages. When the batch is
 * cancelled or fails over its failure ratio, `compensate` undoes chunks, last first. Either phase
 * can continue as new. Beside this file: state.ts (the arithmetic), chunk.ts (one chunk's stages
 * and undo), handlers.ts (signals, query, updates), visibility.ts (the Temporal UI),
 * activities.ts (the activity policies).
 */
import * as wf from '@temporalio/workflow';
import { emptyCost, type BatchSummary, type BatchWorkflowInput } from '../../src/contracts/workflow';
import { webhookWorkflowIdFor } from '../../src/contracts/webhook';
import { deliverWebhookWorkflow } from '../webhook';
import { book, stageActivities } from './activities';
import { runChunk, undoChunk, type ChunkContext } from './chunk';
import { setHandlers } from './handlers';
import {
  finalError,
  finalStatus,
  hasWork,
  hasWorkLeft,
  initialState,
  nextChunk,
  queueRedrive,
  startCompensation,
  status,
  stopRequested,
} from './state';
import { report, reportEnd } from './visibility';

/**
 * Continue-as-new once the server suggests it, or at this many events whatever the server says.
 * After the threshold the run only drains its in-flight chunks (at most 64 chunks × 3 stages ×
 * ~6 events), so no run comes near 10,240 events.
 */
const HISTORY_SOFT_LIMIT = 5_000;

/** A run: the batch's state, the chunks at work, and the scope they are dispatched in. */
interface Run extends ChunkContext {
  chunks: Set<Promise<void>>;
  /** Cancelled by the cancel signal: stops dispatching, while the run goes on to undo and end. */
  dispatch: wf.CancellationScope;
}

export async function batchWorkflow(input: BatchWorkflowInput): Promise<BatchSummary> {
  const s = initialState(input, Date.now());
  const run: Run = {
    s,
    input,
    callStage: stageActivities(s.options.stages, input.retry),
    chunks: new Set(),
    dispatch: new wf.CancellationScope(),
  };
  setHandlers(s, run.dispatch);

  if (s.carried.phase === 'run' && (await runPhase(run)) === 'hand-over') return continueAsNew(run);
  if (s.carried.phase === 'compensate' && (await compensatePhase(run)) === 'hand-over') return continueAsNew(run);
  const summary = await recordEnd(run);
  if (input.webhook) await notify(run, summary);
  // A cancel from the Temporal UI or CLI ends the execution as Canceled, once the batch recorded its end.
  if (s.carried.cancelRequested?.external) throw new wf.CancelledFailure('batch cancelled');
  return summary;
}

/**
 * Phase 1: chunks go through the stages until none is left, the batch is stopped, or the run's
 * history is long enough to hand over. A stopped batch goes on to compensate.
 */
async function runPhase(run: Run): Promise<'hand-over' | 'end'> {
  const { s } = run;
  try {
    await beginRun(run);
    report(s);
    await run.dispatch.run(() => dispatchChunks(run));
  } catch (err) {
    if (!wf.isCancellation(err)) throw err;
    // A cancel from the Temporal UI or CLI lands here; a cancel signal cancels `dispatch` only.
    s.carried.cancelRequested ??= { rollback: s.options.onCancel === 'rollback', external: true };
  }
  await wf.CancellationScope.nonCancellable(() => Promise.all([...run.chunks]));
  await settleUpdates(run);
  // Decisions recorded while this run went on but never announced to it (the nudge failed): a
  // fresh run takes them. One decided later than this finds the run closed and starts a redrive.
  if (!stopRequested(s)) await pickUpReviews(run);
  // A cancel may have come while the reviews were picked up: checked again.
  if (!stopRequested(s) && hasWorkLeft(s)) return 'hand-over';
  if (stopRequested(s)) startCompensation(s);
  return 'end';
}

/**
 * A new batch is marked started; a redrive of a finished one puts its failed items back in line;
 * a continued run picks up review decisions that the previous run refused while it handed over.
 */
async function beginRun(run: Run): Promise<void> {
  const { s, input } = run;
  if (input.carried) return pickUpReviews(run);
  if (!input.redriveFinished) return book.markBatchStarted(s.batchId);
  const { chunkSize, stages } = s.options;
  const reset = await book.resetFailed({ batchId: s.batchId, chunkSize, reopen: true, stages, keepFailed: input.keepFailed === true });
  s.carried.counts = reset.counts;
  s.carried.redrive = reset.chunks;
  if (reset.cost) s.carried.cost = reset.cost;
}

/** Starts chunks as the parallelism limit, pause and stop allow, until there is nothing to start. */
async function dispatchChunks(run: Run): Promise<void> {
  const { s } = run;
  const room = (): boolean => !s.carried.paused && run.chunks.size < s.carried.maxParallelChunks && hasWork(s);
  const drained = (): boolean => !hasWork(s) && run.chunks.size === 0;
  for (;;) {
    await wf.condition(() => stopRequested(s) || handOverDue(run) || room() || drained());
    if (stopRequested(s) || handOverDue(run)) return;
    const next = hasWork(s) ? nextChunk(s) : undefined;
    if (next === undefined) return;
    launch(run, (chunks) => runChunk(chunks, next.index, next.redriven));
  }
}

/**
 * No update is accepted from here; one already accepted (a retry-failed in the last moment) may
 * still put items back in line, and those must run, not be counted as pending by finishBatch.
 */
async function settleUpdates(run: Run): Promise<void> {
  run.s.closing = true;
  // Not cancellable: after a cancel from the Temporal UI or CLI this scope is cancelled, and the
  // batch still has to wait, undo and record its end.
  await wf.CancellationScope.nonCancellable(() => wf.condition(wf.allHandlersFinished));
}

/** Phase 2: undo, last chunk first, as many at once as the parallelism limit allows. */
async function compensatePhase(run: Run): Promise<'hand-over' | 'end'> {
  const { s } = run;
  const comp = s.carried.compensation!;
  report(s);
  // Not cancellable: once undo has begun, a second cancel must not leave it half done.
  await wf.CancellationScope.nonCancellable(async () => {
    while (comp.next >= 0) {
      await wf.condition(() => handOverDue(run) || run.chunks.size < s.carried.maxParallelChunks);
      if (handOverDue(run)) break;
      const index = comp.next--;
      launch(run, (chunks) => undoChunk(chunks, index, comp.scope));
    }
    await Promise.all([...run.chunks]);
  });
  if (comp.next >= 0) return 'hand-over';
  s.rolledBack = comp.scope === 'all';
  return 'end';
}

/** Keeps a chunk's promise while it works, so the phases can wait for it and count it. */
function launch(run: Run, work: (chunks: ChunkContext) => Promise<void>): void {
  const p: Promise<void> = work(run).finally(() => run.chunks.delete(p));
  run.chunks.add(p);
}

/**
 * The end: every item final, and the row says how the batch ended. Not cancellable: a batch
 * cancelled from the UI still records its end.
 */
async function recordEnd(run: Run): Promise<BatchSummary> {
  const { s } = run;
  return wf.CancellationScope.nonCancellable(async () => {
    const final = finalStatus(s);
    const { counts, cost } = await book.finishBatch({
      batchId: s.batchId,
      status: final,
      counts: s.carried.counts,
      rolledBack: s.rolledBack,
      error: finalError(s),
      stages: s.options.stages,
    });
    s.carried.counts = counts;
    if (cost) s.carried.cost = cost;
    // Rolled back means nothing was left behind; orphans say otherwise (and are listed per item).
    // The row takes the same answer through finishBatch, which sees the same counts.
    s.rolledBack = s.rolledBack && counts.orphaned === 0;
    s.finalStatus = final;
    reportEnd(s);
    return { batchId: s.batchId, status: final, counts, rolledBack: s.rolledBack, cost: s.carried.cost } satisfies BatchSummary;
  });
}

/**
 * Starts the completion webhook's delivery as a workflow of its own (abandoned on close): this
 * run ends now, however long the receiver takes. One delivery per run that finishes, so a
 * redrive that finishes again notifies again. Not cancellable: a batch cancelled from the UI
 * still reports its end.
 */
async function notify(run: Run, summary: BatchSummary): Promise<void> {
  const { batchId } = run.s;
  const workflowId = webhookWorkflowIdFor(batchId, wf.workflowInfo().runId);
  const { status: end, counts, rolledBack } = summary;
  const delivery = {
    batchId,
    deliveryId: workflowId,
    status: end,
    counts,
    cost: summary.cost ?? emptyCost(),
    rolledBack,
    finishedAt: new Date().toISOString(),
  };
  try {
    await wf.CancellationScope.nonCancellable(() =>
      wf.startChild(deliverWebhookWorkflow, { workflowId, args: [delivery], parentClosePolicy: wf.ParentClosePolicy.ABANDON }),
    );
  } catch (err) {
    // The batch's end is recorded either way; a delivery that could not start is only logged.
    wf.log.error('could not start the completion webhook', { batchId, workflowId, error: (err as Error).message });
  }
}

/** Puts the chunks of unannounced review decisions in line; nothing runs meanwhile, so the database's counts are the truth. */
async function pickUpReviews(run: Run): Promise<void> {
  const { s } = run;
  const found = await book.pickUpReviews({ batchId: s.batchId, chunkSize: s.options.chunkSize, stages: s.options.stages });
  if (found.chunks.length === 0) return;
  queueRedrive(s, found.chunks);
  if (found.counts) s.carried.counts = found.counts;
  report(s);
}

const handOverDue = (run: Run): boolean => {
  const info = wf.workflowInfo();
  return info.continueAsNewSuggested || info.historyLength > (run.input.historyLimit ?? HISTORY_SOFT_LIMIT);
};

/** Hands over to a fresh run with the tallies: the history starts again from empty. */
async function continueAsNew(run: Run): Promise<never> {
  const { s } = run;
  s.closing = true;
  await book.saveSnapshot({ batchId: s.batchId, status: status(s), counts: s.carried.counts });
  await wf.condition(wf.allHandlersFinished);
  return wf.continueAsNew<typeof batchWorkflow>({ ...run.input, redriveFinished: false, carried: s.carried });
}
