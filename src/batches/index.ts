/**
 * The use-case layer: everything the API does with batches apart from HTTP, one file per job.
 * Routes, the live hub and the process entry points (src/main) receive what createBatches builds.
 *
 *   submit.ts     submit, with every check beyond the schema (rows and workflow, both or neither)
 *   chunking.ts   the chunk_size and max_parallel_chunks a submission leaves to submit
 *   read.ts       one batch, lists, items, exports, what live streams page through
 *   control.ts    cancel, cancel-all, pause, resume, configure, retry-failed
 *   review.ts     the review queue, decisions, the built-in catalog
 *   retention.ts  cleanup now, stale batches
 *   start.ts      starting a batch's workflow (first run, redrive)
 *   handle.ts     the typed workflow handle: signals, updates, the progress query
 *   progress-cache.ts  one poller per read batch: reads answer from its last snapshot
 *   reconcile.ts  the loop that keeps rows and workflows in step
 */
import { createControl } from './control';
import { viewContextOf, type BatchesDeps, type JobDeps } from './deps';
import { createHandles, type HandleFor } from './handle';
import { createProgressCache, DEFAULT_POLL_MS } from './progress-cache';
import { createRead } from './read';
import { createReconciler } from './reconcile';
import { createRetention } from './retention';
import { createReview } from './review';
import { createStarter } from './start';
import { createSubmit } from './submit';

export type { BatchesDeps } from './deps';
export { checkedSubmission, hashRequest, itemLimitOf, toSubmission, type Submission, type SubmitRequest, type Submitted } from './submit';
export type { BatchExport, ExportRow, ItemView } from './read';
export type { ReviewDecision } from './review';
export { itemBody, type BatchBody } from './view';

/** Beyond the stages' heartbeat timeout: time for a closed run's last activity to record what it finished. */
const CLOSED_GRACE_MARGIN_MS = 5_000;

export function createBatches(deps: BatchesDeps) {
  const starter = createStarter(deps);
  const reconciler = createReconciler({
    db: deps.db,
    client: deps.client,
    log: deps.log,
    start: (row) => starter.start(row),
    closedGraceMs: Math.max(...Object.values(deps.retry).map((r) => r.heartbeatTimeoutMs)) + CLOSED_GRACE_MARGIN_MS,
  });
  const handles = createHandles({ client: deps.client, log: deps.log, reconciler });
  const progress = createProgressCache({ ask: (row) => handles(row).progress(), intervalMs: deps.progressPollMs ?? DEFAULT_POLL_MS });
  // A client that paused a batch reads it paused: a signal or update drops the batch's snapshot,
  // and its row (the notification of the row's change comes too, but later).
  const changed = (batchId: string): void => {
    progress.forget(batchId);
    deps.rows?.drop(batchId);
  };
  const handleFor: HandleFor = (row) => {
    const handle = handles(row);
    return {
      ...handle,
      signal: (def, ...args) => handle.signal(def, ...args).finally(() => changed(row.id)),
      update: (def, ...args) => handle.update(def, ...args).finally(() => changed(row.id)),
    };
  };
  const jobs: JobDeps = { ...deps, ui: viewContextOf(deps), starter, handleFor, progress };
  return {
    ...createSubmit(jobs),
    ...createRead(jobs),
    ...createControl(jobs),
    ...createReview(jobs),
    ...createRetention(jobs),
    /**
     * One pass of the reconcile loop (src/batches/reconcile.ts): starts the workflow of a batch
     * left `queued` without one, and fails a batch whose workflow was ended outside batchflow.
     */
    reconcile: reconciler.pass,
    /** Stops the progress pollers (at shutdown, before the Temporal connection closes). */
    close: () => progress.close(),
  };
}

export type Batches = ReturnType<typeof createBatches>;
