/**
 * Retention: deletes finished batches older than `olderThanDays`, a page at a time, so a large
 * backlog is many short activity calls rather than one that could time out. The worker's schedule
 * runs it for every tenant; POST /v1/batches/cleanup runs it for one.
 */
import * as wf from '@temporalio/workflow';
import type { Activities } from '../activities';

export interface RetentionInput {
  olderThanDays: number;
  /** Only this tenant's batches; every tenant's when absent. */
  tenantId?: string;
  /** Set by continue-as-new: the cutoff of the first run, and what it deleted so far. */
  cutoff?: string;
  deletedSoFar?: number;
}

export interface RetentionResult {
  deleted: number;
}

/** Batches per activity call: one call of 100 is seconds, even with blobs on S3. */
const PAGE = 100;
const DAY_MS = 24 * 60 * 60 * 1000;

const { deleteExpiredBatches } = wf.proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  // Heartbeats come per batch; a minute without one means the worker is gone.
  heartbeatTimeout: '1 minute',
  // About five minutes of retries: a cleanup that cannot reach the database or blob store fails, and the next run tries again.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
});

export async function retentionWorkflow(input: RetentionInput): Promise<RetentionResult> {
  // Workflow time is deterministic; one cutoff holds for every page, and across continue-as-new.
  const cutoff = input.cutoff ?? new Date(Date.now() - input.olderThanDays * DAY_MS).toISOString();
  let deleted = input.deletedSoFar ?? 0;
  for (;;) {
    const page = await deleteExpiredBatches({ cutoff, tenantId: input.tenantId, limit: PAGE });
    deleted += page.deleted;
    if (!page.more) return { deleted };
    if (wf.workflowInfo().continueAsNewSuggested) {
      return wf.continueAsNew<typeof retentionWorkflow>({ ...input, cutoff, deletedSoFar: deleted });
    }
  }
}
