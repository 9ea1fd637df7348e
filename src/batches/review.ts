/**
 * Human review: the queue of items waiting for a person, a person's decision, and the built-in
 * catalog where published items land. A decision nudges the batch's open run, or redrives a
 * finished batch so the item runs its remaining stages.
 */
import { isTerminal } from '../contracts/workflow';
import * as batches from '../db/batches';
import { listCatalog } from '../db/catalog';
import { countItems } from '../db/counts';
import { listReview, resolveReview } from '../db/items';
import { batchOptionsOf, type BatchRow } from '../db/schema';
import { BatchConflict } from '../errors';
import type { JobDeps } from './deps';
import { reviewedUpdate } from './handle';

export type ReviewDecision = { batch_id: string; ref: string; label: string; status: 'pending' | 'succeeded' };

export function createReview(deps: JobDeps) {
  const { db, log, handleFor, starter } = deps;

  /** Recounts a finished batch whose items changed without a run (a review of a classify-only batch). */
  async function refreshFinished(row: BatchRow): Promise<void> {
    const counts = await countItems(db, row.id, batchOptionsOf(row).stages);
    const status = row.status === 'partial' && counts.failed + counts.needs_review + counts.orphaned === 0 ? 'completed' : row.status;
    await batches.saveSnapshot(db, row.id, status, counts);
    deps.rows?.drop(row.id);
  }

  return {
    /** Items of the tenant waiting for a person, with the tiers' best guess. */
    async reviewQueue(tenantId: string, opts: { batchId?: string; limit: number; cursor?: string }) {
      const page = await listReview(db, tenantId, opts);
      return {
        items: page.items.map((i) => ({
          batch_id: i.batch_id,
          ref: i.ref,
          text: i.text,
          suggestion: i.classification ? { label: i.classification.label, confidence: i.classification.confidence } : null,
          suggestions: i.classification?.suggestions ?? [],
        })),
        next_cursor: page.nextCursor,
      };
    },

    /**
     * A person's label for an item in review. The item then runs its remaining stages: through
     * the batch's workflow if it is still open, or as a redrive of the finished batch.
     */
    async resolveReview(tenantId: string, batchId: string, ref: string, label: string): Promise<ReviewDecision | undefined> {
      const row = await batches.getBatch(db, tenantId, batchId);
      if (!row) return undefined;
      const options = batchOptionsOf(row);
      const classifyOnly = options.stages[options.stages.length - 1] === 'classify';
      const seq = await resolveReview(db, row.id, ref, label, classifyOnly);
      if (seq === undefined) throw new BatchConflict(`item ${ref} is not waiting for review`);
      if (classifyOnly) {
        // Nothing left to run: the item is done, and a finished batch's row says so at once.
        if (isTerminal(row.status)) await refreshFinished(row);
        return { batch_id: row.id, ref, label, status: 'succeeded' };
      }
      const handle = handleFor(row);
      if (!isTerminal(row.status)) {
        try {
          await handle.update(reviewedUpdate, { seq });
          return { batch_id: row.id, ref, label, status: 'pending' };
        } catch (err) {
          if (!(err instanceof BatchConflict)) throw err;
        }
      }
      // The decision is recorded; the run refused the nudge. A run handing over to a new one
      // (continue-as-new) leaves it to that run, which picks up recorded decisions at its start; a
      // run that is finishing closes soon, and a redrive takes the item.
      if (!isTerminal(row.status)) {
        log.info({ batchId: row.id, ref }, 'review recorded; the run refused the nudge, so a run picks it up from the database');
        const end = await handle.currentRunEnd();
        if (end !== 'closed') return { batch_id: row.id, ref, label, status: 'pending' };
      } else {
        await handle.waitForClose();
      }
      await starter.redrive(row, { redriveFinished: true, keepFailed: true }).catch((err: unknown) => {
        // A redrive already running takes the item at its end all the same.
        if (!(err instanceof BatchConflict)) throw err;
      });
      return { batch_id: row.id, ref, label, status: 'pending' };
    },

    /** The tenant's published items in the built-in catalog, a page at a time. */
    async catalog(tenantId: string, opts: { batchId?: string; limit: number; cursor?: string }) {
      const page = await listCatalog(db, tenantId, opts);
      return { items: page.items, next_cursor: page.nextCursor };
    },
  };
}
