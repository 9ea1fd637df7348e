/**
 * What the API does with batches, apart from HTTP: submit (rows and workflow, both or neither),
 * read (live from the workflow while it runs, from the database after), list, page items, cancel.
 */
import { createHash } from 'node:crypto';
import { Client, WorkflowContinuedAsNewError, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowIdReusePolicy, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import {
  BATCH_WORKFLOW_TYPE,
  CANCEL_SIGNAL,
  CONFIGURE_UPDATE,
  emptyCounts,
  PAUSE_SIGNAL,
  RESUME_SIGNAL,
  RETRY_FAILED_UPDATE,
  REVIEWED_UPDATE,
  isTerminal,
  PROGRESS_QUERY,
  workflowIdFor,
  type BatchOptions,
  type BatchStatus,
  type BatchWorkflowInput,
  type ConfigurePatch,
  type ConfigureResult,
  type ItemStatus,
  type Progress,
  type RetryFailedResult,
  type RetryPolicies,
} from '../contracts/workflow';
import { countFailed, listReview, resolveReview } from '../db/items';
import { countItems } from '../db/counts';
import * as batches from '../db/batches';
import { listItems } from '../db/items';
import type { BatchRow, Database } from '../db/schema';
import type { batchWorkflow } from '../../workflows/batch';
import { ItemCountKey, PriorityKey, TenantIdKey, BatchStatusKey, FailedCountKey } from '../temporal/search-attributes';
import { explainMissingSearchAttributes } from '../temporal/search-attribute-setup';
import { batchStaticDetails, batchStaticSummary } from '../temporal/user-metadata';
import type { Submission } from './submission';
import { checkCallbackUrl } from '../net/ssrf';
import type { KeyLimits } from '../auth/limits';
import { countActiveBatches, lockTenantSubmissions } from '../db/limits';
import { itemBody, toBatchBody, type BatchBody } from './view';
import { newBatchId } from './ids';
import { DEFAULT_STALE_AFTER_MS } from '../db/retention';
import { runRetention } from '../temporal/schedule';
import { createReconciler } from './reconcile';
import { BatchConflict, CallbackRefused, IdempotencyMismatch, TooManyActiveBatches, TooManyItems, Unavailable } from '../errors';

export { BatchConflict, CallbackRefused, IdempotencyMismatch, TooManyActiveBatches, TooManyItems, Unavailable };
import { startOutcome } from './start-outcome';

export interface BatchServiceDeps {
  db: Kysely<Database>;
  client: Client;
  log: Logger;
  taskQueue: string;
  namespace: string;
  uiUrl: string;
  retry: RetryPolicies;
  /** ALLOW_PRIVATE_CALLBACKS: accept callback URLs on private and loopback addresses (default false). */
  allowPrivateCallbacks?: boolean;
  /** STALE_BATCH_MINUTES: a queued or running batch older than this is reported stale (default 120). */
  staleAfterMinutes?: number;
}

/** A progress query waits on a worker; past this the read answers from the database snapshot. */
const QUERY_DEADLINE_MS = 3_000;
/** The task queue of a batch of this priority. */
export const taskQueueFor = (base: string, priority: string): string => (priority === 'express' ? `${base}-express` : base);

/** Beyond the stages' heartbeat timeout: time for a closed run's last activity to record what it finished. */
const CLOSED_GRACE_MARGIN_MS = 5_000;
/** How long a redrive waits for a finishing run to close before answering 409. */
const RUN_CLOSE_DEADLINE_MS = 30_000;
/** Rough throughput used for `estimated_seconds` before a batch has a rate of its own. */
const ESTIMATED_ITEMS_PER_SECOND = 200;

/** What identifies a request for Idempotency-Key checks: a digest of its body (JSON or file, plus options). */
export const hashRequest = (raw: unknown): string => createHash('sha256').update(typeof raw === 'string' ? raw : JSON.stringify(raw)).digest('hex');

/** How a submission arrived: its body's digest and, when given, its Idempotency-Key. */
export interface SubmitRequest {
  requestHash: string;
  idempotencyKey?: string;
  /** The calling key's batch limits; absent (internal callers) means none are checked. */
  limits?: Pick<KeyLimits, 'maxItems' | 'maxActiveBatches'>;
}

export interface Submitted {
  body: BatchBody & { poll_url: string; events_url: string; estimated_seconds: number };
  replayed: boolean;
}

export const createBatchService = (deps: BatchServiceDeps) => {
  const { db, client, log } = deps;
  const staleAfterMs = (deps.staleAfterMinutes ?? DEFAULT_STALE_AFTER_MS / 60_000) * 60_000;
  const ui = { base: deps.uiUrl, namespace: deps.namespace, staleAfterMs };

  type Redrive = { redriveFinished: true; keepFailed?: boolean } | Record<string, never>;
  const workflowInput = (row: Pick<BatchRow, 'id' | 'tenant_id' | 'total_items' | 'options' | 'callback_url'>, redrive: Redrive): BatchWorkflowInput => ({
    batchId: row.id,
    tenantId: row.tenant_id,
    totalItems: row.total_items,
    options: row.options as unknown as BatchOptions,
    retry: deps.retry,
    ...(row.callback_url ? { webhook: true } : {}),
    ...redrive,
  });

  async function startWorkflow(
    // `metadata` is the stored row's object, or the JSON text of a row about to be inserted.
    row: Pick<BatchRow, 'id' | 'tenant_id' | 'total_items' | 'options' | 'priority' | 'callback_url'> & { metadata?: Record<string, unknown> | string | null },
    redrive: Redrive = {},
  ): Promise<void> {
    // What the Temporal UI shows for the batch: a line in the list, markdown on its page.
    const metadata = typeof row.metadata === 'string' ? (JSON.parse(row.metadata) as Record<string, unknown>) : row.metadata;
    const described = { batchId: row.id, tenantId: row.tenant_id, totalItems: row.total_items, options: row.options as unknown as BatchOptions, metadata, redrive: redrive.redriveFinished === true };
    await client.workflow.start<typeof batchWorkflow>(BATCH_WORKFLOW_TYPE, {
      workflowId: workflowIdFor(row.id),
      // A batch's first run starts once: a run terminated in the Temporal UI is not started again
      // by a retry or the reconcile loop. A redrive is a new run of a batch whose last run closed.
      workflowIdReusePolicy: redrive.redriveFinished ? WorkflowIdReusePolicy.ALLOW_DUPLICATE : WorkflowIdReusePolicy.REJECT_DUPLICATE,
      // Express batches have a task queue, and worker slots, of their own: they never wait
      // behind normal work.
      taskQueue: taskQueueFor(deps.taskQueue, row.priority),
      args: [workflowInput(row, redrive)],
      typedSearchAttributes: [
        { key: TenantIdKey, value: row.tenant_id },
        { key: PriorityKey, value: row.priority },
        { key: ItemCountKey, value: row.total_items },
        { key: BatchStatusKey, value: 'running' },
        // A redrive's workflow sets its own once it has reset the failed items.
        ...(redrive.redriveFinished ? [] : [{ key: FailedCountKey, value: 0 }]),
      ],
      staticSummary: batchStaticSummary(described),
      staticDetails: batchStaticDetails(described),
    });
  }

  function submittedBody(row: BatchRow, replayed: boolean): Submitted {
    return {
      replayed,
      body: {
        ...toBatchBody(row, null, ui),
        poll_url: `/v1/batches/${row.id}`,
        events_url: `/v1/batches/${row.id}/events`,
        estimated_seconds: Math.max(1, Math.ceil(row.total_items / ESTIMATED_ITEMS_PER_SECOND)),
      },
    };
  }

  async function replayIdempotent(tenantId: string, key: string, hash: string): Promise<Submitted | undefined> {
    const existing = await batches.findByIdempotencyKey(db, tenantId, key);
    if (!existing) return undefined;
    if (existing.request_hash !== hash) throw new IdempotencyMismatch();
    return submittedBody(existing, true);
  }

  const reconciler = createReconciler({
    db,
    client,
    log,
    start: (row) => startWorkflow(row),
    closedGraceMs: Math.max(...Object.values(deps.retry).map((r) => r.heartbeatTimeoutMs)) + CLOSED_GRACE_MARGIN_MS,
  });

  return {
    /**
     * Creates the batch's rows in one transaction, then starts its workflow. A start Temporal
     * refused for certain deletes the rows again, so that submission leaves nothing (503). A start
     * whose answer is unknown (a timeout, a dropped connection) keeps them: the batch is accepted
     * `queued` and the reconcile loop starts it, or finds it started. (Should this process die
     * between the two, the loop starts the workflow too: the id is derived from the batch.)
     */
    async submit(tenantId: string, submission: Submission, request: SubmitRequest): Promise<Submitted> {
      const { requestHash: hash, idempotencyKey, limits } = request;
      if (idempotencyKey) {
        const replay = await replayIdempotent(tenantId, idempotencyKey, hash);
        if (replay) return replay;
      }
      if (limits && submission.items.length > limits.maxItems) throw new TooManyItems(limits.maxItems);
      // Checked before anything is written. A host that does not resolve now is let through: every
      // delivery checks its addresses again before it connects.
      if (submission.callbackUrl && !deps.allowPrivateCallbacks) {
        const check = await checkCallbackUrl(submission.callbackUrl, { allowPrivate: false });
        if (!check.ok && !check.retryable) throw new CallbackRefused(check.reason);
      }
      const id = newBatchId();
      const row = {
        id,
        tenant_id: tenantId,
        status: 'queued' as const,
        priority: submission.options.priority,
        options: JSON.stringify(submission.options),
        metadata: JSON.stringify(submission.metadata),
        callback_url: submission.callbackUrl,
        total_items: submission.items.length,
        counts: JSON.stringify(emptyCounts(submission.items.length)),
        error: null,
        idempotency_key: idempotencyKey ?? null,
        request_hash: idempotencyKey ? hash : null,
        workflow_id: workflowIdFor(id),
      };
      // The active-batch limit is counted under a per-tenant lock inside the insert's transaction,
      // so parallel submissions cannot all see room. A replay is looked for first, under the same
      // lock: repeating an accepted request is never refused for the limit it helped reach.
      const earlier: { row?: BatchRow } = {};
      const guard = limits
        ? async (tx: Transaction<Database>): Promise<boolean> => {
            await lockTenantSubmissions(tx, tenantId);
            if (idempotencyKey) earlier.row = await batches.findByIdempotencyKey(tx, tenantId, idempotencyKey);
            if (earlier.row) return false;
            if ((await countActiveBatches(tx, tenantId)) >= limits.maxActiveBatches) throw new TooManyActiveBatches(limits.maxActiveBatches);
            return true;
          }
        : undefined;
      try {
        await batches.insertBatch(db, row, submission.items, guard);
      } catch (err) {
        // Two requests with one key at the same moment: the unique constraint lets one win.
        if (idempotencyKey && (err as { code?: string }).code === '23505') {
          const replay = await replayIdempotent(tenantId, idempotencyKey, hash);
          if (replay) return replay;
        }
        throw err;
      }
      if (earlier.row) {
        if (earlier.row.request_hash !== hash) throw new IdempotencyMismatch();
        return submittedBody(earlier.row, true);
      }
      try {
        // No deadline of ours: the SDK's own retries end an unreachable Temporal with "no connection"
        // (a certain refusal, so 503); a deadline would end it as a timeout, whose outcome is unknown.
        await startWorkflow({ ...row, options: submission.options as unknown as Record<string, unknown> });
      } catch (err) {
        const outcome = startOutcome(err);
        if (outcome === 'refused') {
          log.error({ err, batchId: id }, 'Temporal refused the batch workflow; removing its rows');
          await batches.deleteBatch(db, id);
          throw await temporalUnavailable();
        }
        // 'started': an earlier attempt of this very start landed. 'unknown': it may have.
        if (outcome === 'unknown') log.warn({ err, batchId: id }, 'the workflow start went unanswered; the batch stays queued for the reconcile loop');
      }
      const created = await batches.getBatchById(db, id);
      return submittedBody(created!, false);
    },

    async get(tenantId: string, batchId: string): Promise<BatchBody | undefined> {
      const row = await batches.getBatch(db, tenantId, batchId);
      if (!row) return undefined;
      return toBatchBody(row, isTerminal(row.status) ? null : await queryProgress(row), ui);
    },

    async list(tenantId: string, opts: { status?: BatchStatus; limit: number; cursor?: string; stale?: boolean }) {
      const { rows, nextCursor } = await batches.listBatches(db, tenantId, { ...opts, staleBefore: new Date(Date.now() - staleAfterMs) });
      return { batches: rows.map((r) => toBatchBody(r, null, ui)), next_cursor: nextCursor };
    },

    /**
     * Offset paging, newest first, with the total: what the part-number design's clients page
     * with (`GET /api/batches`). Cursors (`list`) stay the way for everything else.
     */
    async listByOffset(tenantId: string, opts: { status?: BatchStatus[]; limit: number; offset: number }) {
      let query = db.selectFrom('batches').where('tenant_id', '=', tenantId);
      if (opts.status) query = query.where('status', 'in', opts.status);
      const [rows, total] = await Promise.all([
        query.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(opts.limit).offset(opts.offset).execute(),
        query.select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { batches: rows.map((r) => toBatchBody(r, null, ui)), total: Number(total.n) };
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

    /** Signals the workflow; it stops dispatching at once and in-flight chunks stop at their next heartbeat. */
    async cancel(tenantId: string, batchId: string, rollback: boolean | undefined): Promise<BatchBody | undefined> {
      const row = await batches.getBatch(db, tenantId, batchId);
      if (!row) return undefined;
      if (isTerminal(row.status)) throw new BatchConflict(`batch is already ${row.status}`);
      await signal(row, CANCEL_SIGNAL, rollback === undefined ? {} : { rollback });
      await batches.setActiveStatus(db, row.id, 'cancelling');
      const live = await queryProgress(row);
      return toBatchBody(row, live ? { ...live, status: isTerminal(live.status) ? live.status : 'cancelling' } : null, ui);
    },

    /** Pause: no new chunk starts; work in flight finishes. Resume undoes it. */
    async setPaused(tenantId: string, batchId: string, paused: boolean): Promise<BatchBody | undefined> {
      const row = await batches.getBatch(db, tenantId, batchId);
      if (!row) return undefined;
      if (isTerminal(row.status)) throw new BatchConflict(`batch is already ${row.status}`);
      await signal(row, paused ? PAUSE_SIGNAL : RESUME_SIGNAL);
      await batches.setActiveStatus(db, row.id, paused ? 'paused' : 'running');
      return toBatchBody(row, await queryProgress(row), ui);
    },

    /** Ramps a running batch up or down: a workflow update, so the answer is the values now in force. */
    async configure(tenantId: string, batchId: string, patch: ConfigurePatch): Promise<(BatchBody & ConfigureResult) | undefined> {
      const row = await batches.getBatch(db, tenantId, batchId);
      if (!row) return undefined;
      if (isTerminal(row.status)) throw new BatchConflict(`batch is already ${row.status}`);
      const values = await update<ConfigureResult>(row, CONFIGURE_UPDATE, [patch]);
      return { ...toBatchBody(row, await queryProgress(row), ui), ...values };
    },

    /**
     * Runs the failed items again, with the same refs and so the same publish idempotency keys: on
     * a running batch through an update; on a finished one as a new run bound to the same batch.
     */
    async retryFailed(tenantId: string, batchId: string): Promise<(RetryFailedResult & { batch_id: string; status: BatchStatus }) | undefined> {
      const row = await batches.getBatch(db, tenantId, batchId);
      if (!row) return undefined;
      if (!isTerminal(row.status)) {
        try {
          const r = await update<RetryFailedResult>(row, RETRY_FAILED_UPDATE, []);
          return { ...r, batch_id: row.id, status: 'running' };
        } catch (err) {
          if (!(err instanceof BatchConflict)) throw err;
        }
      }
      // The row turns final a moment before the run closes: let that run end before starting anew.
      await waitForRunToClose(row);
      const failed = await countFailed(db, row.id);
      if (failed === 0) return { retried: 0, chunks: 0, batch_id: row.id, status: (await batches.getBatchById(db, row.id))!.status };
      await startRedrive(row, { redriveFinished: true });
      return { retried: failed, chunks: 0, batch_id: row.id, status: 'running' };
    },

    /** Items of the tenant waiting for a person, with the tiers' best guess. */
    async reviewQueue(tenantId: string, opts: { batchId?: string; limit: number; cursor?: string }) {
      const page = await listReview(db, tenantId, opts);
      return {
        items: page.items.map((i) => ({
          batch_id: i.batch_id,
          ref: i.ref,
          text: i.text,
          suggestion: i.classification ? { label: i.classification.label, confidence: i.classification.confidence } : null,
        })),
        next_cursor: page.nextCursor,
      };
    },

    /**
     * A person's label for an item in review. The item then runs its remaining stages: through
     * the batch's workflow if it is still open, or as a redrive of the finished batch.
     */
    async resolveReview(tenantId: string, batchId: string, ref: string, label: string): Promise<{ batch_id: string; ref: string; label: string; status: 'pending' | 'succeeded' } | undefined> {
      const row = await batches.getBatch(db, tenantId, batchId);
      if (!row) return undefined;
      const options = row.options as unknown as BatchOptions;
      const classifyOnly = options.stages[options.stages.length - 1] === 'classify';
      const seq = await resolveReview(db, row.id, ref, label, classifyOnly);
      if (seq === undefined) throw new BatchConflict(`item ${ref} is not waiting for review`);
      if (classifyOnly) {
        // Nothing left to run: the item is done, and a finished batch's row says so at once.
        if (isTerminal(row.status)) await refreshFinished(row);
        return { batch_id: row.id, ref, label, status: 'succeeded' };
      }
      if (!isTerminal(row.status)) {
        try {
          await update(row, REVIEWED_UPDATE, [{ seq }]);
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
        const end = await currentRunEnd(row);
        if (end !== 'closed') return { batch_id: row.id, ref, label, status: 'pending' };
      } else {
        await waitForRunToClose(row);
      }
      await startRedrive(row, { redriveFinished: true, keepFailed: true }).catch((err: unknown) => {
        // A redrive already running takes the item at its end all the same.
        if (!(err instanceof BatchConflict)) throw err;
      });
      return { batch_id: row.id, ref, label, status: 'pending' };
    },

    /**
     * Runs retention now for the tenant (the schedule's workflow, on the normal task queue) and
     * answers how many batches it deleted.
     */
    async cleanup(tenantId: string, olderThanDays: number): Promise<{ deleted: number }> {
      try {
        return await runRetention(client, { taskQueue: deps.taskQueue, tenantId, olderThanDays });
      } catch (err) {
        log.error({ err, tenantId }, 'cleanup failed');
        throw new Unavailable('the cleanup could not finish; batches it had deleted stay deleted');
      }
    },

    /** Cancels every batch of the tenant in `status`; answers the ids it signalled. */
    async cancelAll(tenantId: string, status: 'queued' | 'running' | 'paused', rollback: boolean | undefined): Promise<string[]> {
      const cancelled: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await batches.listBatches(db, tenantId, { status, limit: 100, cursor });
        for (const row of page.rows) {
          try {
            await signal(row, CANCEL_SIGNAL, rollback === undefined ? {} : { rollback });
            await batches.setActiveStatus(db, row.id, 'cancelling');
            cancelled.push(row.id);
          } catch (err) {
            if (!(err instanceof BatchConflict)) throw err;
          }
        }
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return cancelled;
    },

    /**
     * One pass of the reconcile loop (src/batches/reconcile.ts): starts the workflow of a batch
     * left `queued` without one, and fails a batch whose workflow was ended outside batchflow.
     */
    reconcile: reconciler.pass,
  };

  /**
   * A workflow start failed. A namespace without batchflow's search attributes refuses every start
   * with only "invalid argument"; then the 503 names the missing attributes and the fix.
   */
  async function temporalUnavailable(): Promise<Unavailable> {
    return new Unavailable('Temporal', await explainMissingSearchAttributes(client.connection.operatorService, { namespace: deps.namespace }));
  }

  /** A new run bound to a finished batch; its row says running until that run ends. */
  async function startRedrive(row: BatchRow, redrive: Redrive): Promise<void> {
    try {
      await startWorkflow(row, redrive);
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw new BatchConflict('a redrive of this batch is already running');
      throw await temporalUnavailable();
    }
    await batches.reopen(db, row.id);
  }

  /** Recounts a finished batch whose items changed without a run (a review of a classify-only batch). */
  async function refreshFinished(row: BatchRow): Promise<void> {
    const options = row.options as unknown as BatchOptions;
    const counts = await countItems(db, row.id, options.stages);
    const status = row.status === 'partial' && counts.failed + counts.needs_review + counts.orphaned === 0 ? 'completed' : row.status;
    await batches.saveSnapshot(db, row.id, status, counts);
  }

  /** Waits (bounded) until the batch's latest run has closed; a missing run counts as closed. */
  async function waitForRunToClose(row: BatchRow): Promise<void> {
    const handle = client.workflow.getHandle(row.workflow_id);
    try {
      const { status } = await handle.describe();
      if (status.name === 'RUNNING') await client.withDeadline(Date.now() + RUN_CLOSE_DEADLINE_MS, () => handle.result());
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return;
      // A run that ended failed or cancelled has closed all the same; only a still-running one is a conflict.
      const { status } = await handle.describe().catch(() => ({ status: { name: 'UNKNOWN' } }));
      if (status.name === 'RUNNING') throw new BatchConflict('the batch is still finishing; retry in a moment');
    }
  }

  /**
   * Waits (bounded) for the batch's current run to end: `continued` when it handed over to a new
   * run, `closed` when it ended, `running` when it is still going after RUN_CLOSE_DEADLINE_MS (a run
   * that has not reached its end yet; it picks up recorded decisions there).
   */
  async function currentRunEnd(row: BatchRow): Promise<'continued' | 'closed' | 'running'> {
    const ended = (name: string): 'continued' | 'closed' | 'running' => (name === 'RUNNING' ? 'running' : name === 'CONTINUED_AS_NEW' ? 'continued' : 'closed');
    let runId: string;
    try {
      const latest = await client.workflow.getHandle(row.workflow_id).describe();
      if (latest.status.name !== 'RUNNING') return ended(latest.status.name);
      runId = latest.runId;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return 'closed';
      throw new Unavailable('Temporal');
    }
    const run = client.workflow.getHandle(row.workflow_id, runId, { followRuns: false });
    try {
      await client.withDeadline(Date.now() + RUN_CLOSE_DEADLINE_MS, () => run.result());
      return 'closed';
    } catch (err) {
      if (err instanceof WorkflowContinuedAsNewError) return 'continued';
      // Failed, cancelled or terminated: closed all the same. Past the deadline: ask how it stands.
      if (err instanceof WorkflowFailedError) return 'closed';
      const now = await run.describe().catch(() => undefined);
      if (!now) throw new Unavailable('Temporal');
      return ended(now.status.name);
    }
  }

  async function signal(row: BatchRow, name: string, arg?: unknown): Promise<void> {
    try {
      await client.workflow.getHandle(row.workflow_id).signal(name, ...(arg === undefined ? [] : [arg]));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw await finishedConflict(row);
      throw new Unavailable('Temporal');
    }
  }

  /**
   * The batch's workflow has closed. If it closed without writing the batch's end (terminated in
   * the Temporal UI), the row is reconciled now, not at the loop's next pass: the conflict then
   * names the status it ended in, and the batch's slot is free.
   */
  async function finishedConflict(row: BatchRow): Promise<BatchConflict> {
    const outcome = await reconciler.settle(row).catch((err: unknown) => {
      log.warn({ err, batchId: row.id }, 'could not reconcile a batch whose workflow has closed; the loop will');
      return 'open' as const;
    });
    if (outcome === 'failed') return new BatchConflict('batch has already failed: its workflow was ended outside batchflow (error terminated)');
    if (outcome === 'waiting' && row.status !== 'queued') return new BatchConflict('its workflow was ended outside batchflow moments ago; the batch becomes failed (error terminated) at the reconcile loop\'s next pass');
    // A queued batch whose workflow never started (its submit died): the loop starts it.
    if (outcome === 'started' || outcome === 'waiting') return new BatchConflict('the batch is still starting; retry in a moment');
    return new BatchConflict('batch has already finished');
  }

  /** A workflow update; its validator's refusal (the batch is stopping) is a conflict. */
  async function update<T>(row: BatchRow, name: string, args: unknown[]): Promise<T> {
    try {
      return await client.workflow.getHandle(row.workflow_id).executeUpdate<T, [unknown, ...unknown[]]>(name, { args: args as [unknown, ...unknown[]] });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new BatchConflict((err.cause as Error | undefined)?.message ?? err.message);
      if (err instanceof WorkflowNotFoundError) throw await finishedConflict(row);
      throw new Unavailable('Temporal');
    }
  }

  async function queryProgress(row: BatchRow): Promise<Progress | null> {
    try {
      return await client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () =>
        client.workflow.getHandle(row.workflow_id).query<Progress>(PROGRESS_QUERY),
      );
    } catch (err) {
      log.warn({ err, batchId: row.id }, 'progress query failed; answering from the database');
      return null;
    }
  }
};

export type BatchService = ReturnType<typeof createBatchService>;
