/**
 * Starting a batch's workflow: its first run (submit, the reconcile loop) and a redrive, a new run
 * bound to a batch whose last run closed (retry-failed, a review of a finished batch).
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/client';
import { BATCH_WORKFLOW_TYPE, workflowIdFor, type BatchOptions, type BatchWorkflowInput } from '../contracts/workflow';
import * as batches from '../db/batches';
import { batchOptionsOf, type BatchRow } from '../db/schema';
import type { batchWorkflow } from '../../workflows/batch/workflow';
import { BatchConflict, Unavailable } from '../errors';
import { ItemCountKey, PriorityKey, TenantIdKey, BatchStatusKey, FailedCountKey } from '../temporal/search-attributes';
import { explainMissingSearchAttributes } from '../temporal/search-attribute-setup';
import { taskQueueFor } from '../temporal/task-queues';
import { batchStaticDetails, batchStaticSummary } from '../temporal/user-metadata';
import type { BatchesDeps } from './deps';

/** How long a refused start's 503 waits to name missing search attributes (the listing's gRPC deadline too). */
const EXPLAIN_DEADLINE_MS = 2_000;

/** A redrive runs a finished batch again; `keepFailed` leaves its failed items failed (a review's redrive). */
export type Redrive = { redriveFinished: true; keepFailed?: boolean } | Record<string, never>;

/** What a start needs of a batch: its stored row, or the row about to be inserted. */
export type StartRow = Pick<BatchRow, 'id' | 'tenant_id' | 'total_items' | 'priority' | 'callback_url'> & {
  options: BatchRow['options'] | BatchOptions;
  // The stored row's object, or the JSON text of a row about to be inserted.
  metadata?: Record<string, unknown> | string | null;
};

export interface Starter {
  start(row: StartRow, redrive?: Redrive): Promise<void>;
  /** A new run bound to a finished batch; its row says running until that run ends. */
  redrive(row: BatchRow, redrive: Redrive): Promise<void>;
  /** The 503 of a failed start, naming missing search attributes when that is why. */
  unavailable(): Promise<Unavailable>;
}

export function createStarter(deps: BatchesDeps): Starter {
  const { client, db } = deps;

  const workflowInput = (row: StartRow, redrive: Redrive): BatchWorkflowInput => ({
    batchId: row.id,
    tenantId: row.tenant_id,
    totalItems: row.total_items,
    options: batchOptionsOf(row),
    retry: deps.retry,
    ...(row.callback_url ? { webhook: true } : {}),
    ...redrive,
  });

  async function start(row: StartRow, redrive: Redrive = {}): Promise<void> {
    // What the Temporal UI shows for the batch: a line in the list, markdown on its page.
    const metadata = typeof row.metadata === 'string' ? (JSON.parse(row.metadata) as Record<string, unknown>) : row.metadata;
    const described = {
      batchId: row.id,
      tenantId: row.tenant_id,
      totalItems: row.total_items,
      options: batchOptionsOf(row),
      metadata,
      redrive: redrive.redriveFinished === true,
    };
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

  /**
   * A workflow start failed. A namespace without batchflow's search attributes refuses every start
   * with only "invalid argument"; then the 503 names the missing attributes and the fix.
   */
  async function unavailable(): Promise<Unavailable> {
    // The listing's own gRPC deadline, not only the 2 s the explanation waits for it: otherwise,
    // with Temporal unreachable, the call goes on retrying in the background for ~20 s after the
    // 503 has been answered, one such call per refused request.
    const explained = client.connection.withDeadline(Date.now() + EXPLAIN_DEADLINE_MS, () =>
      explainMissingSearchAttributes(client.connection.operatorService, { namespace: deps.namespace, timeoutMs: EXPLAIN_DEADLINE_MS }),
    );
    return new Unavailable('Temporal', await explained);
  }

  async function redrive(row: BatchRow, how: Redrive): Promise<void> {
    try {
      await start(row, how);
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw new BatchConflict('a redrive of this batch is already running');
      throw await unavailable();
    }
    await batches.reopen(db, row.id);
    // This process reads the reopened row at once; the change notification comes a moment later.
    deps.rows?.drop(row.id);
  }

  return { start, redrive, unavailable };
}
