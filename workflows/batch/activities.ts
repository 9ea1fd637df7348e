/**
 * The activities the batch workflow calls, each kind with the policy its work needs: bookkeeping
 * is retried until the database is back, undo is patient, and the stages take the batch's own
 * per-stage policy (it travels in the workflow input, so a run keeps the policy it started with).
 */
import * as wf from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { Stage, StageRetry } from '../../src/contracts/workflow';

/** Undo gets its own patient policy: giving up means an orphaned remote item. */
export const COMPENSATION_ATTEMPTS = 8;

/** Bookkeeping activities are small database writes: retried until the database is back. */
export const book = wf.proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/** The saga's undo of a chunk (its failed items, its unfinished ones, or all of it). */
export const undo = wf.proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: COMPENSATION_ATTEMPTS },
}).compensate;

/** One stage's activity with the batch's retry policy for that stage. */
export function stageActivity(stage: Stage, r: StageRetry) {
  return wf.proxyActivities<Activities>({
    startToCloseTimeout: r.startToCloseTimeoutMs,
    heartbeatTimeout: r.heartbeatTimeoutMs,
    // Wait for a cancelled chunk to record what it did, so nothing it wrote lands after the
    // batch's final bookkeeping.
    cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: r.initialIntervalMs,
      backoffCoefficient: r.backoffCoefficient,
      maximumInterval: r.maximumIntervalMs,
      maximumAttempts: r.maximumAttempts,
      nonRetryableErrorTypes: r.nonRetryableErrorTypes,
    },
  })[stage];
}

export type StageActivity = ReturnType<typeof stageActivity>;

/** The stage activities of a batch, built once per run. */
export function stageActivities(stages: Stage[], retry: Record<Stage, StageRetry>): Record<Stage, StageActivity> {
  return Object.fromEntries(stages.map((s) => [s, stageActivity(s, retry[s])])) as Record<Stage, StageActivity>;
}
