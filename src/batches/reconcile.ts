/**
 * The loop that keeps batch rows and workflows in step. It starts the workflow of a batch left
 * `queued` without one (the API died between commit and start, or the start went unanswered), and
 * ends as `failed` a batch whose workflow closed without writing the batch's end: terminated from
 * the Temporal UI or CLI, timed out, or failed. Such a batch would otherwise stay active forever,
 * holding one of the tenant's active slots, with cancel answering 409.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { listActiveAfter, type ActiveCursor } from '../db/batches';
import type { BatchRow, Database } from '../db/schema';
import { endTerminated } from '../db/terminated';

/** Rows read per query. */
const PAGE = 100;
/**
 * Workflows described per pass (one call each, plus a start for a missing one). A pass that stops
 * here leaves its place for the next, so every active batch is checked within
 * ceil(active / PASS_CHECKS) passes, however long the backlog.
 */
export const PASS_CHECKS = 500;
/** A queued batch younger than this may still be starting (its submit is under way): left alone. */
export const QUEUED_GRACE_MS = 30_000;

/** How the latest run of a batch's workflow stands: `describe()`'s status name, or NOT_FOUND. */
interface Run {
  status: string;
  closedAt?: Date;
}
/** Closed the way only the workflow's own end (finishBatch) or a continue-as-new closes it. */
const CLOSED_BY_ITSELF = ['COMPLETED', 'CONTINUED_AS_NEW'];

/** `waiting`: left for a later pass (a queued batch in its grace period, a run closed moments ago). */
export type Outcome = 'open' | 'started' | 'failed' | 'waiting';

export interface SettleOptions {
  /** A queued batch without a workflow is started only if it was created before this. */
  queuedBefore?: Date;
  /** A batch past queued is ended only once its run has been closed this long (default: the deps'). */
  closedGraceMs?: number;
}

export interface PassResult {
  checked: number;
  started: number;
  failed: number;
}

export interface ReconcilerDeps {
  db: Kysely<Database>;
  client: Client;
  log: Logger;
  /** Starts the batch's first run; refuses (WorkflowExecutionAlreadyStartedError) if it ever had one. */
  start(row: BatchRow): Promise<void>;
  /**
   * How long after its run closed a batch past queued is ended. The closed run's chunk activities
   * may still be running: each learns of the close at its next heartbeat and records what it
   * finished, so this is a little over the stages' heartbeat timeout. Ending the batch sooner would
   * let those late writes land on items already ended `terminated`.
   */
  closedGraceMs: number;
}

export const createReconciler = (deps: ReconcilerDeps) => {
  const { db, client, log } = deps;
  // In memory: after a restart the walk begins again from the oldest, which only costs a pass.
  let cursor: ActiveCursor | undefined;
  let inFlight: Promise<PassResult> | undefined;

  async function latestRun(workflowId: string): Promise<Run> {
    try {
      const d = await client.workflow.getHandle(workflowId).describe();
      return { status: d.status.name, closedAt: d.closeTime };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { status: 'NOT_FOUND' };
      throw err;
    }
  }

  /** Brings one active batch in step with its workflow. */
  async function settle(row: BatchRow, opts: SettleOptions = {}): Promise<Outcome> {
    const { status, closedAt } = await latestRun(row.workflow_id);
    if (status === 'RUNNING' || CLOSED_BY_ITSELF.includes(status)) return 'open';
    if (status === 'NOT_FOUND' && row.status === 'queued') {
      if (row.created_at >= (opts.queuedBefore ?? new Date(Date.now() - QUEUED_GRACE_MS))) return 'waiting';
      try {
        await deps.start(row);
      } catch (err) {
        // Started meanwhile (its own submit, or another API process): nothing to do.
        if (err instanceof WorkflowExecutionAlreadyStartedError) return 'open';
        throw err;
      }
      log.warn({ batchId: row.id }, 'started the workflow of a batch that had none');
      return 'started';
    }
    // TERMINATED, TIMED_OUT, FAILED, CANCELED, or gone (a batch past queued always had one).
    // A queued batch never ran a stage (its run marks it running first): nothing can land late.
    if (row.status !== 'queued' && closedAt && Date.now() - closedAt.getTime() < (opts.closedGraceMs ?? deps.closedGraceMs))
      return 'waiting';
    const how = status === 'NOT_FOUND' ? 'is gone' : `closed ${status}`;
    const message = `the batch's workflow ${how} without finishing the batch (ended outside batchflow, e.g. terminated in the Temporal UI or CLI); its unfinished items failed and can be retried`;
    const ended = await endTerminated(db, row.id, message);
    if (!ended) return 'open';
    log.warn(
      { batchId: row.id, tenantId: row.tenant_id, workflowId: row.workflow_id, workflowStatus: status, itemsFailed: ended.items },
      'batch failed: its workflow ended without it (error terminated); its slot is free',
    );
    return 'failed';
  }

  async function walk(queuedOlderThanMs: number, maxChecks: number, closedGraceMs?: number): Promise<PassResult> {
    const result: PassResult = { checked: 0, started: 0, failed: 0 };
    const queuedBefore = new Date(Date.now() - queuedOlderThanMs);
    while (result.checked < maxChecks) {
      const page = await listActiveAfter(db, cursor, Math.min(PAGE, maxChecks - result.checked));
      if (page.length === 0) {
        // The end of the list: the next pass starts again from the oldest.
        cursor = undefined;
        break;
      }
      for (const row of page) {
        // A failure (Temporal unreachable) ends the pass; the next one resumes at this row.
        const outcome = await settle(row, { queuedBefore, closedGraceMs });
        cursor = { createdAt: row.created_at, id: row.id };
        result.checked++;
        if (outcome === 'started') result.started++;
        if (outcome === 'failed') result.failed++;
      }
    }
    const line = { ...result, resumeAfter: cursor?.id ?? null };
    if (result.started + result.failed > 0) log.info(line, 'reconcile pass');
    else log.debug(line, 'reconcile pass');
    return result;
  }

  return {
    settle,
    /**
     * One pass over the active batches, oldest first, from where the last pass stopped, checking
     * at most `maxChecks` (default PASS_CHECKS). A call while a pass runs joins that pass, so a
     * slow pass and the next tick never overlap. `closedGraceMs` overrides the deps' (tests).
     */
    pass(opts: { queuedOlderThanMs?: number; maxChecks?: number; closedGraceMs?: number } = {}): Promise<PassResult> {
      inFlight ??= walk(opts.queuedOlderThanMs ?? QUEUED_GRACE_MS, opts.maxChecks ?? PASS_CHECKS, opts.closedGraceMs).finally(
        () => (inFlight = undefined),
      );
      return inFlight;
    },
  };
};

export type Reconciler = ReturnType<typeof createReconciler>;
