/**
 * The bookkeeping activities: what the workflow records on the batch and its items around the
 * stages (started, snapshots between runs, chunks that failed for good, the end), and the
 * redrive's and review's way back into a run.
 */
import type { Kysely } from 'kysely';
import type { BatchStatus, Cost, Counts, ItemRange, ResetOutcome, Stage } from '../src/contracts/workflow';
import type { Database } from '../src/db/schema';
import * as batches from '../src/db/batches';
import { decidedReviewChunks, endUnfinished, resetFailed } from '../src/db/items';
import { costOf, countItems } from '../src/db/counts';

export const bookkeepingActivities = (db: Kysely<Database>) => ({
  /**
   * Redrive: failed items go back to pending, to run again from the first stage. For a batch that
   * had finished (`reopen`), its row says running again until the new run ends.
   */
  async resetFailed(input: {
    batchId: string;
    chunkSize: number;
    reopen: boolean;
    stages: Stage[];
    keepFailed?: boolean;
  }): Promise<ResetOutcome & { counts: Counts; cost: Cost }> {
    const reset = await resetFailed(db, input.batchId, input.chunkSize, input.keepFailed ?? false, input.reopen);
    if (input.reopen) await batches.reopen(db, input.batchId);
    return { ...reset, counts: await countItems(db, input.batchId, input.stages), cost: await costOf(db, input.batchId) };
  },

  /**
   * Review decisions recorded but not yet picked up by a run, as chunks to run again, with the
   * counts as the database has them (a decision moved an item from needs_review to pending).
   */
  async pickUpReviews(input: { batchId: string; chunkSize: number; stages: Stage[] }): Promise<{ chunks: number[]; counts?: Counts }> {
    const chunks = await decidedReviewChunks(db, input.batchId, input.chunkSize);
    return chunks.length === 0 ? { chunks } : { chunks, counts: await countItems(db, input.batchId, input.stages) };
  },

  /** Marks the batch running; a no-op for a batch already past `queued`. */
  async markBatchStarted(batchId: string): Promise<void> {
    await batches.markStarted(db, batchId);
  },

  /** Keeps the database's counts snapshot current between runs (continue-as-new). */
  async saveSnapshot(input: { batchId: string; status: BatchStatus; counts: Counts }): Promise<void> {
    await batches.saveSnapshot(db, input.batchId, input.status, input.counts);
  },

  /**
   * A chunk whose stage call failed for good (retries exhausted, or a permanent whole-call
   * error): its unfinished items end `failed` with that error rather than staying pending.
   */
  async failRange(input: {
    batchId: string;
    range: ItemRange;
    stage: Stage;
    code: string;
    message: string;
    attempts: number;
    retryable?: boolean;
  }): Promise<number> {
    return endUnfinished(db, input.batchId, 'failed', {
      range: input.range,
      stage: input.stage,
      // Retryable unless the call failed for good: a call that used up its retries failed as a
      // whole (an outage), not because of the item, and a redrive may pass. Histories recorded
      // before the workflow said which had no `retryable`: those were all called retryable.
      error: {
        code: input.code,
        message: `${input.stage}: ${input.message}`,
        retryable: input.retryable ?? true,
        attempts: input.attempts,
      },
    });
  },

  /**
   * Records the batch's end. For a batch that stopped early (cancelled, or failed over its
   * failure ratio), every item no stage finished ends `cancelled`. Answers the final counts.
   */
  async finishBatch(input: {
    batchId: string;
    status: BatchStatus;
    counts: Counts;
    rolledBack: boolean;
    error: { code: string; message: string } | null;
    stages: Stage[];
  }): Promise<{ cancelled: number; counts: Counts; cost: Cost }> {
    const stopped = input.status === 'cancelled' || input.status === 'failed';
    const cancelled = stopped ? await endUnfinished(db, input.batchId, 'cancelled') : 0;
    // The workflow's tallies miss what a cancelled chunk did before it stopped; the recorded
    // results do not, so the final counts come from them.
    const counts = await countItems(db, input.batchId, input.stages);
    // A rollback that left orphans did not undo everything: the batch says so.
    const rolledBack = input.rolledBack && counts.orphaned === 0;
    const cost = await costOf(db, input.batchId);
    await batches.finishBatch(db, input.batchId, { ...input, rolledBack, counts, cost });
    return { cancelled, counts, cost };
  },
});
