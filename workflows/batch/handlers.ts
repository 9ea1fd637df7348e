/**
 * How the outside reaches a running batch: the control signals (cancel, pause, resume), the
 * progress query, and the updates that change or add work (configure, retry-failed, reviewed).
 * The definitions are exported for the API's typed handle; the names come from the contract.
 * Validators refuse an update before it enters history, so a refused one costs nothing.
 */
import * as wf from '@temporalio/workflow';
import {
  CANCEL_SIGNAL,
  CONFIGURE_UPDATE,
  PAUSE_SIGNAL,
  PROGRESS_QUERY,
  RESUME_SIGNAL,
  RETRY_FAILED_UPDATE,
  REVIEWED_UPDATE,
  type CancelSignal,
  type ConfigurePatch,
  type ConfigureResult,
  type Progress,
  type RetryFailedResult,
} from '../../src/contracts/workflow';
import { book } from './activities';
import { acceptsWork, checkFailureRatio, countRetried, countReviewed, progress, type BatchState } from './state';
import { report } from './visibility';

export const cancelSignal = wf.defineSignal<[CancelSignal]>(CANCEL_SIGNAL);
export const pauseSignal = wf.defineSignal(PAUSE_SIGNAL);
export const resumeSignal = wf.defineSignal(RESUME_SIGNAL);
export const progressQuery = wf.defineQuery<Progress>(PROGRESS_QUERY);
export const configureUpdate = wf.defineUpdate<ConfigureResult, [ConfigurePatch]>(CONFIGURE_UPDATE);
export const retryFailedUpdate = wf.defineUpdate<RetryFailedResult, []>(RETRY_FAILED_UPDATE);
/** A person resolved a review: the item's chunk runs again so its remaining stages run. */
export const reviewedUpdate = wf.defineUpdate<{ queued: boolean }, [{ seq: number }]>(REVIEWED_UPDATE);

/**
 * Installs every handler on the run. `dispatch` is the scope the chunks run in: a cancel signal
 * cancels it alone, so the run itself goes on to undo and record its end.
 */
export function setHandlers(s: BatchState, dispatch: wf.CancellationScope): void {
  wf.setHandler(cancelSignal, (signal) => cancel(s, signal, dispatch));
  wf.setHandler(pauseSignal, () => setPaused(s, true));
  wf.setHandler(resumeSignal, () => setPaused(s, false));
  wf.setHandler(progressQuery, () => progress(s, Date.now()));
  wf.setHandler(configureUpdate, (patch) => configure(s, patch), { validator: (patch) => validateConfigure(s, patch) });
  wf.setHandler(retryFailedUpdate, () => retryFailed(s), { validator: () => refuseWhenStopping(s) });
  wf.setHandler(reviewedUpdate, ({ seq }) => reviewed(s, seq), { validator: ({ seq }) => validateReviewed(s, seq) });
}

/** The first cancel decides (rollback or keep); a later one changes nothing. */
function cancel(s: BatchState, signal: CancelSignal, dispatch: wf.CancellationScope): void {
  if (s.carried.cancelRequested) return;
  s.carried.cancelRequested = { rollback: signal.rollback ?? s.options.onCancel === 'rollback' };
  dispatch.cancel();
  report(s);
}

/** Pausing only holds back new chunks: those in flight finish. */
function setPaused(s: BatchState, paused: boolean): void {
  s.carried.paused = paused;
  report(s);
}

function configure(s: BatchState, patch: ConfigurePatch): ConfigureResult {
  if (patch.max_parallel_chunks !== undefined) s.carried.maxParallelChunks = patch.max_parallel_chunks;
  if (patch.max_failure_ratio !== undefined) s.carried.maxFailureRatio = patch.max_failure_ratio;
  // A lower ratio may already be exceeded by the failures so far.
  checkFailureRatio(s);
  return { max_parallel_chunks: s.carried.maxParallelChunks, max_failure_ratio: s.carried.maxFailureRatio };
}

function validateConfigure(s: BatchState, patch: ConfigurePatch): void {
  const n = patch.max_parallel_chunks;
  const r = patch.max_failure_ratio;
  if (n !== undefined && !(Number.isInteger(n) && n >= 1 && n <= 64))
    throw new Error('max_parallel_chunks must be an integer from 1 to 64');
  if (r !== undefined && !(typeof r === 'number' && r >= 0 && r <= 1)) throw new Error('max_failure_ratio must be from 0 to 1');
  refuseWhenStopping(s);
}

/** Failed items go back to pending in the database, and their chunks run again in this run. */
async function retryFailed(s: BatchState): Promise<RetryFailedResult> {
  const reset = await book.resetFailed({ batchId: s.batchId, chunkSize: s.options.chunkSize, reopen: false, stages: s.options.stages });
  countRetried(s, reset.items, reset.chunks);
  report(s);
  return { retried: reset.items, chunks: reset.chunks.length };
}

/** The decision is already in the database; the run only puts the item's chunk back in line. */
function reviewed(s: BatchState, seq: number): { queued: boolean } {
  countReviewed(s, seq);
  return { queued: true };
}

function validateReviewed(s: BatchState, seq: number): void {
  if (!(Number.isInteger(seq) && seq >= 0 && seq < s.totalItems)) throw new Error('no such item');
  refuseWhenStopping(s);
}

/** Work added now would never run: the run is stopping, undoing, or handing over. */
function refuseWhenStopping(s: BatchState): void {
  if (!acceptsWork(s)) throw new Error('the batch is stopping');
}
