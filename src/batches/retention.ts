/**
 * Retention on demand: cleanup runs the retention schedule's workflow now for one tenant, and the
 * operator's stale-batch listing (`npm run stale`) pages through batches left queued or running.
 */
import { listStale } from '../db/retention';
import type { BatchRow } from '../db/schema';
import { Unavailable } from '../errors';
import { runRetention } from '../temporal/schedule';
import type { BatchesDeps } from './deps';

/** Rows read per query: the stale listing pages so that a long list never sits in memory at once. */
const STALE_PAGE = 200;

export function createRetention(deps: BatchesDeps) {
  const { db, client, log } = deps;

  return {
    /**
     * Runs retention now for the tenant (the schedule's workflow, on the normal task queue) and
     * answers how many batches it deleted.
     */
    async cleanup(tenantId: string, olderThanDays: number): Promise<{ deleted: number }> {
      try {
        const deleted = await runRetention(client, { taskQueue: deps.taskQueue, tenantId, olderThanDays });
        // Deleted rows are never served from a copy, whichever notification is still on its way.
        deps.rows?.gap();
        return deleted;
      } catch (err) {
        log.error({ err, tenantId }, 'cleanup failed');
        throw new Unavailable('the cleanup could not finish; batches it had deleted stay deleted');
      }
    },

    /** Every batch queued or running since before `before` (every tenant's, or one's), oldest first. */
    async *staleBatches(before: Date, tenantId: string | undefined): AsyncGenerator<BatchRow> {
      let after: { createdAt: Date; id: string } | undefined;
      for (;;) {
        const rows = await listStale(db, { before, tenantId, limit: STALE_PAGE, after });
        yield* rows;
        const last = rows[rows.length - 1];
        if (!last || rows.length < STALE_PAGE) return;
        after = { createdAt: last.created_at, id: last.id };
      }
    },
  };
}
