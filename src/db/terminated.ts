/**
 * The database side of a batch whose workflow closed without writing the batch's end (terminated
 * from the Temporal UI or CLI, timed out, failed): what the workflow's `finishBatch` would have done.
 */
import type { Kysely } from 'kysely';
import { countItems } from './counts';
import { endUnfinished } from './items';
import { ACTIVE_STATUSES } from './limits';
import { finishBatch } from './batches';
import { batchOptionsOf, type Database } from './schema';

/** The batch's `error.code`, and its unfinished items', when its workflow was ended outside batchflow. */
export const TERMINATED = 'terminated';

/**
 * Ends a batch whose workflow has closed: its items that no stage finished (pending or running)
 * become `failed` with code `terminated` and `retryable: true`, so `retry-failed` can run them
 * again; items that had ended keep their status. The row becomes `failed` with `error`, which
 * frees its active slot. Answers how many items it ended, or undefined when the row was no longer
 * active (the workflow, or another API process, wrote the end first): a final status is never
 * overwritten.
 */
export async function endTerminated(db: Kysely<Database>, batchId: string, message: string): Promise<{ items: number } | undefined> {
  return db.transaction().execute(async (tx) => {
    // Locked for the transaction: two API processes reconciling at once end the batch once.
    const row = await tx
      .selectFrom('batches')
      .select(['options'])
      .where('id', '=', batchId)
      .where('status', 'in', [...ACTIVE_STATUSES])
      .forUpdate()
      .executeTakeFirst();
    if (!row) return undefined;
    const items = await endUnfinished(tx, batchId, 'failed', { error: { code: TERMINATED, message, retryable: true, attempts: 0 } });
    const counts = await countItems(tx, batchId, batchOptionsOf(row).stages);
    await finishBatch(tx, batchId, { status: 'failed', counts, rolledBack: false, error: { code: TERMINATED, message } });
    return { items };
  });
}
