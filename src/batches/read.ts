/**
 * Reading batches: one (live from the workflow while it runs, from the database after), lists by
 * cursor and by offset, a batch's items, what live streams page through, and exports' pages.
 * Routes and the live hub read through here, never the database directly.
 */
import { isTerminal, type BatchStatus, type ItemStatus } from '../contracts/workflow';
import * as batches from '../db/batches';
import { exportPages, type ExportRow } from '../db/export';
import { firstUnfinished, listFailedBetween, listItems, listResultsBetween, type ItemView } from '../db/item-pages';
import type { BatchRow } from '../db/schema';
import type { JobDeps } from './deps';
import { itemBody, toBatchBody, type BatchBody } from './view';

export type { ExportRow, ItemView };

/** A batch's export: what its file's header says, and its item results page by page. */
export interface BatchExport {
  batch: Pick<BatchRow, 'id' | 'status' | 'total_items' | 'metadata'>;
  pages: AsyncGenerator<ExportRow[]>;
}

export function createRead(deps: JobDeps) {
  const { db, progress, ui, rows } = deps;

  return {
    /**
     * A running batch's progress is the shared poller's last snapshot (progress-cache.ts): a read
     * never waits on a busy worker.
     */
    async get(tenantId: string, batchId: string): Promise<BatchBody | undefined> {
      // The row is what says a batch has ended, the moment it has (a client told by the webhook
      // must not read a 0.5 s old "running"): a kept copy is dropped by the row's change
      // notification at commit (row-cache.ts), else the row is loaded.
      const load = () => batches.getBatch(db, tenantId, batchId);
      const row = await (rows ? rows.get(tenantId, batchId, load) : load());
      if (!row) return undefined;
      const snapshot = isTerminal(row.status) ? null : await progress.read(row);
      return toBatchBody(row, snapshot?.progress ?? null, ui, snapshot?.at ?? null);
    },

    /** Whether the batch exists and is the tenant's: what a live stream checks before it opens. */
    async exists(tenantId: string, batchId: string): Promise<boolean> {
      return (await batches.getBatch(db, tenantId, batchId)) !== undefined;
    },

    async list(tenantId: string, opts: { status?: BatchStatus; limit: number; cursor?: string; stale?: boolean }) {
      const { rows, nextCursor } = await batches.listBatches(db, tenantId, {
        ...opts,
        staleBefore: new Date(Date.now() - ui.staleAfterMs),
      });
      return { batches: rows.map((r) => toBatchBody(r, null, ui)), next_cursor: nextCursor };
    },

    /**
     * Offset paging, newest first, with the total: what the part-number design's clients page
     * with (`GET /api/batches`). Cursors (`list`) stay the way for everything else.
     */
    async listByOffset(tenantId: string, opts: { status?: BatchStatus[]; limit: number; offset: number }) {
      const { rows, total } = await batches.listBatchesByOffset(db, tenantId, opts);
      return { batches: rows.map((r) => toBatchBody(r, null, ui)), total };
    },

    async items(tenantId: string, batchId: string, opts: { status?: ItemStatus; limit: number; cursor?: string }) {
      const row = await batches.getBatch(db, tenantId, batchId);
      if (!row) return undefined;
      const page = await listItems(db, batchId, opts);
      return {
        items: page.items.map(itemBody),
        next_cursor: page.nextCursor,
      };
    },

    /** The batch's export, or undefined when the batch is unknown or another tenant's. */
    async exportOf(tenantId: string, batchId: string): Promise<BatchExport | undefined> {
      const batch = await batches.getBatch(db, tenantId, batchId);
      if (!batch) return undefined;
      return { batch, pages: exportPages(db, batch.id, batch.total_items) };
    },

    // What the live streams page through (src/api/live/hub.ts, the compatibility job stream).
    /** The lowest seq at or after `from` whose item is not final; undefined when all are. */
    firstUnfinished: (batchId: string, from: number) => firstUnfinished(db, batchId, from),
    failedBetween: (batchId: string, fromSeq: number, toSeq: number, limit: number) =>
      listFailedBetween(db, batchId, fromSeq, toSeq, limit),
    resultsBetween: (batchId: string, fromSeq: number, toSeq: number, limit: number, statuses: ItemStatus[]) =>
      listResultsBetween(db, batchId, fromSeq, toSeq, limit, statuses),
  };
}
