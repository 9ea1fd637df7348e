/**
 * Batch rows kept in memory for progress reads, so that a read of a running batch answers without
 * a database round trip (issue 15: under a worker's load, that round trip was most of a read).
 *
 * A copy is only served while the database's change notifications reach this process
 * (migration 0009: every update or delete of a batch row notifies its id at commit):
 * - a notification drops the batch's copy, so the next read loads the row as committed; a batch
 *   that has just ended is read as ended as soon as its notification arrives, which is at its
 *   commit, well before the webhook that announces it can go out;
 * - a gap (the listening connection was lost, or came back) drops every copy, and while not
 *   listening nothing is kept: every read goes to the database, as before;
 * - a load that overlaps any notification is not kept (it may have read the row before the change);
 * - a copy lives at most MAX_AGE_MS even so, and at most MAX_ROWS are kept (oldest dropped first).
 */
import type { Listening } from '../db/listen';
import type { BatchRow } from '../db/schema';

export const BATCH_CHANGED = 'batchflow_batch_changed';
export const MAX_AGE_MS = 5_000;
const MAX_ROWS = 10_000;

export interface RowCache {
  /** The tenant's batch: the copy when there is a good one, else `load()`'s answer, kept if it can be. */
  get(tenantId: string, batchId: string, load: () => Promise<BatchRow | undefined>): Promise<BatchRow | undefined>;
  /** The batch changed (a notification, or this process's own control call). */
  drop(batchId: string): void;
  /** Notifications may have been missed: drop every copy. */
  gap(): void;
  size(): number;
}

export function createRowCache(listening: () => boolean, now: () => number = Date.now): RowCache {
  const rows = new Map<string, { row: BatchRow; at: number }>();
  // Bumped by every drop and gap: a load that saw it change may hold a row older than the change.
  let changes = 0;

  return {
    async get(tenantId, batchId, load) {
      const kept = rows.get(batchId);
      if (kept && listening() && now() - kept.at < MAX_AGE_MS) return kept.row.tenant_id === tenantId ? kept.row : undefined;
      const before = changes;
      const at = now();
      const row = await load();
      if (row && listening() && changes === before) {
        rows.delete(batchId);
        rows.set(batchId, { row, at });
        if (rows.size > MAX_ROWS) rows.delete(rows.keys().next().value!);
      }
      return row;
    },
    drop(batchId) {
      changes++;
      rows.delete(batchId);
    },
    gap() {
      changes++;
      rows.clear();
    },
    size: () => rows.size,
  };
}

/** A row cache fed by the database's notifications; `listen` is Db.listen. */
export async function watchedRowCache(
  listen: (channel: string, h: { message(id: string): void; gap(): void }) => Promise<Listening>,
): Promise<{ rows: RowCache; close(): Promise<void> }> {
  // The cache needs the listener and the listener the cache: the holder breaks the circle.
  const holder: { listening?: Listening } = {};
  const rows = createRowCache(() => holder.listening?.live() ?? false);
  const listening = await listen(BATCH_CHANGED, { message: (id) => rows.drop(id), gap: () => rows.gap() });
  holder.listening = listening;
  return { rows, close: () => listening.close() };
}
