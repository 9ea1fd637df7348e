/**
 * Steering a batch while it runs: cancel (one or all of a tenant's), pause and resume, configure,
 * and retry-failed, which on a finished batch is a redrive. Each goes through the batch's typed
 * workflow handle (handle.ts); the row follows the workflow's answer.
 */
import { isTerminal, type BatchStatus, type ConfigurePatch, type ConfigureResult, type RetryFailedResult } from '../contracts/workflow';
import * as batches from '../db/batches';
import { countFailed } from '../db/items';
import { BatchConflict } from '../errors';
import type { JobDeps } from './deps';
import { cancelSignal, configureUpdate, pauseSignal, resumeSignal, retryFailedUpdate } from './handle';
import { toBatchBody, type BatchBody } from './view';

export function createControl(deps: JobDeps) {
  const { db, handleFor, starter, ui, rows } = deps;

  return {
    /** Signals the workflow; it stops dispatching at once and in-flight chunks stop at their next heartbeat. */
    async cancel(tenantId: string, batchId: string, rollback: boolean | undefined): Promise<BatchBody | undefined> {
      const row = await batches.getBatch(db, tenantId, batchId);
      if (!row) return undefined;
      if (isTerminal(row.status)) throw new BatchConflict(`batch is already ${row.status}`);
      const handle = handleFor(row);
      await handle.signal(cancelSignal, rollback === undefined ? {} : { rollback });
      await batches.setActiveStatus(db, row.id, 'cancelling');
      rows?.drop(row.id);
      const live = await handle.progress();
      return toBatchBody(row, live ? { ...live, status: isTerminal(live.status) ? live.status : 'cancelling' } : null, ui);
    },

    /** Pause: no new chunk starts; work in flight finishes. Resume undoes it. */
    async setPaused(tenantId: string, batchId: string, paused: boolean): Promise<BatchBody | undefined> {
      const row = await batches.getBatch(db, tenantId, batchId);
      if (!row) return undefined;
      if (isTerminal(row.status)) throw new BatchConflict(`batch is already ${row.status}`);
      const handle = handleFor(row);
      await handle.signal(paused ? pauseSignal : resumeSignal);
      await batches.setActiveStatus(db, row.id, paused ? 'paused' : 'running');
      rows?.drop(row.id);
      return toBatchBody(row, await handle.progress(), ui);
    },

    /** Ramps a running batch up or down: a workflow update, so the answer is the values now in force. */
    async configure(tenantId: string, batchId: string, patch: ConfigurePatch): Promise<(BatchBody & ConfigureResult) | undefined> {
      const row = await batches.getBatch(db, tenantId, batchId);
      if (!row) return undefined;
      if (isTerminal(row.status)) throw new BatchConflict(`batch is already ${row.status}`);
      const handle = handleFor(row);
      const values = await handle.update(configureUpdate, patch);
      return { ...toBatchBody(row, await handle.progress(), ui), ...values };
    },

    /**
     * Runs the failed items again, with the same refs and so the same publish idempotency keys: on
     * a running batch through an update; on a finished one as a new run bound to the same batch.
     */
    async retryFailed(
      tenantId: string,
      batchId: string,
    ): Promise<(RetryFailedResult & { batch_id: string; status: BatchStatus }) | undefined> {
      const row = await batches.getBatch(db, tenantId, batchId);
      if (!row) return undefined;
      const handle = handleFor(row);
      if (!isTerminal(row.status)) {
        try {
          const r = await handle.update(retryFailedUpdate);
          return { ...r, batch_id: row.id, status: 'running' };
        } catch (err) {
          if (!(err instanceof BatchConflict)) throw err;
        }
      }
      // The row turns final a moment before the run closes: let that run end before starting anew.
      await handle.waitForClose();
      const failed = await countFailed(db, row.id);
      if (failed === 0) return { retried: 0, chunks: 0, batch_id: row.id, status: (await batches.getBatchById(db, row.id))!.status };
      await starter.redrive(row, { redriveFinished: true });
      return { retried: failed, chunks: 0, batch_id: row.id, status: 'running' };
    },

    /** Cancels every batch of the tenant in `status`; answers the ids it signalled. */
    async cancelAll(tenantId: string, status: 'queued' | 'running' | 'paused', rollback: boolean | undefined): Promise<string[]> {
      const cancelled: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await batches.listBatches(db, tenantId, { status, limit: 100, cursor });
        for (const row of page.rows) {
          try {
            await handleFor(row).signal(cancelSignal, rollback === undefined ? {} : { rollback });
            await batches.setActiveStatus(db, row.id, 'cancelling');
            rows?.drop(row.id);
            cancelled.push(row.id);
          } catch (err) {
            if (!(err instanceof BatchConflict)) throw err;
          }
        }
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return cancelled;
    },
  };
}
