/**
 * One chunk's way through the batch: its stages in order, the durable backoff for items that
 * failed transiently, the undo of items that failed after leaving effects (the saga, per item),
 * and, in the compensate phase, the undo of the whole chunk. The tallies are state.ts's; this
 * file decides which activity runs when.
 */
import * as wf from '@temporalio/workflow';
import type { BatchWorkflowInput, CompensationScope, ItemRange, Stage, StageOutcome } from '../../src/contracts/workflow';
import { chunkActivitySummary } from '../../src/temporal/user-metadata';
import { book, COMPENSATION_ATTEMPTS, undo, type StageActivity } from './activities';
import {
  backoffMs,
  chunkRange,
  countCompensated,
  countFailedRange,
  countFailedUndone,
  mayHaveEffects,
  maxAttemptsOf,
  stopRequested,
  tally,
  type BatchState,
} from './state';
import { report } from './visibility';

/** What the chunk functions need of their run. */
export interface ChunkContext {
  s: BatchState;
  input: BatchWorkflowInput;
  callStage: Record<Stage, StageActivity>;
}

/**
 * Runs chunk `index` through the batch's stages. A stage where no item succeeded ends the chunk
 * early (the later stages would have nothing to do). `redriven`: the chunk ran before, so items
 * that passed a stage then are already counted.
 */
export async function runChunk(run: ChunkContext, index: number, redriven: boolean): Promise<void> {
  const { s } = run;
  const stages = s.options.stages;
  const range = chunkRange(s, index);
  let stage: Stage = stages[0]!;
  try {
    for (const [i, at] of stages.entries()) {
      stage = at;
      s.inFlight.set(index, stage);
      const outcome = await runStage(run, index, i, redriven);
      if (outcome.failed > 0 && mayHaveEffects(stages, i)) await undoFailed(run, range);
      if (outcome.succeeded === 0 && i < stages.length - 1) break;
    }
  } catch (err) {
    // A cancelled chunk has recorded what it did (the stage waits for that); nothing to add.
    if (!wf.isCancellation(err)) await failChunk(run, range, stage, err);
  } finally {
    s.inFlight.delete(index);
    s.chunksDone++;
    report(s);
  }
}

/**
 * One stage over the chunk, dispatched again after a durable backoff while items fail
 * transiently (unless the batch is stopping). Each call reports cumulative tallies, so each is
 * counted against the previous one, and a redriven chunk's first call against where it stood.
 */
async function runStage(run: ChunkContext, index: number, i: number, redriven: boolean): Promise<StageOutcome> {
  const { s, input } = run;
  const stages = s.options.stages;
  const stage = stages[i]!;
  const last = i === stages.length - 1;
  const r = input.retry[stage];
  const range = chunkRange(s, index);
  let outcome: StageOutcome | null = null;
  for (let attempt = 1; ; attempt++) {
    const summary = chunkActivitySummary(stage, index, s.chunkCount, range.to - range.from, attempt);
    const next: StageOutcome = await run.callStage[stage].executeWithOptions({ summary }, [
      {
        batchId: s.batchId,
        tenantId: s.tenantId,
        stage,
        previousStage: i === 0 ? null : stages[i - 1]!,
        lastStage: last,
        range,
        chunkIndex: index,
        chunkCount: s.chunkCount,
        attempt,
        maxAttempts: maxAttemptsOf(r),
      },
    ]);
    tally(s, stage, next, outcome ?? (redriven ? (next.before ?? null) : null), last);
    outcome = next;
    if (!(outcome.transient > 0) || stopRequested(s)) return outcome;
    await wf.sleep(backoffMs(r, attempt, outcome.retryAfterMs));
  }
}

/**
 * The stage call failed as a whole after its retries: the chunk's unfinished items fail with it,
 * recorded even if a cancel arrives meanwhile (they did fail), and their earlier effects undone.
 */
async function failChunk(run: ChunkContext, range: ItemRange, stage: Stage, err: unknown): Promise<void> {
  const { s, input } = run;
  const cause = err instanceof wf.ActivityFailure && err.cause ? err.cause : (err as Error);
  const code = cause instanceof wf.ApplicationFailure && cause.type ? cause.type : 'stage_failed';
  // A permanent failure (the activity said so, or its type is listed as permanent) is not worth a
  // redrive as it is; one that used up its retries (an outage) may pass later.
  const listed = cause instanceof wf.ApplicationFailure && !!cause.type && input.retry[stage].nonRetryableErrorTypes.includes(cause.type);
  const permanent = cause instanceof wf.ApplicationFailure && (cause.nonRetryable || listed);
  const exhausted = err instanceof wf.ActivityFailure && err.retryState === 'MAXIMUM_ATTEMPTS_REACHED';
  const attempts = exhausted ? input.retry[stage].maximumAttempts : 1;
  const n = await wf.CancellationScope.nonCancellable(() =>
    book.failRange({ batchId: s.batchId, range, stage, code, message: cause.message, attempts, retryable: !permanent }),
  );
  countFailedRange(s, n);
  if (n > 0) await undoFailed(run, range);
}

/** Undoes what the chunk's failed items left (staged content, a published entry); they stay failed. */
async function undoFailed(run: ChunkContext, range: ItemRange): Promise<void> {
  const { s } = run;
  const index = Math.floor(range.from / s.options.chunkSize);
  const summary = chunkActivitySummary('undo', index, s.chunkCount, range.to - range.from, 1, 'its failed items');
  // Not cancellable: an undo half done would leave effects nobody tracks.
  const out = await wf.CancellationScope.nonCancellable(() =>
    undo.executeWithOptions({ summary }, [
      { batchId: s.batchId, tenantId: s.tenantId, range, scope: 'failed', maxAttempts: COMPENSATION_ATTEMPTS },
    ]),
  );
  countFailedUndone(s, out);
}

/** The compensate phase's undo of chunk `index`: its unfinished items, or everything (rollback). */
export async function undoChunk(run: ChunkContext, index: number, scope: Exclude<CompensationScope, 'failed'>): Promise<void> {
  const { s } = run;
  s.inFlight.set(index, 'undo');
  try {
    const range = chunkRange(s, index);
    const what = scope === 'all' ? 'rollback' : 'its unfinished items';
    const summary = chunkActivitySummary('undo', index, s.chunkCount, range.to - range.from, 1, what);
    const out = await undo.executeWithOptions({ summary }, [
      { batchId: s.batchId, tenantId: s.tenantId, range, scope, maxAttempts: COMPENSATION_ATTEMPTS },
    ]);
    countCompensated(s, out);
  } finally {
    s.inFlight.delete(index);
    report(s);
  }
}
