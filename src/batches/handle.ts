/**
 * The one way the API reaches a batch's running workflow: a typed handle for its signals, updates
 * and the progress query, by the names the workflow defines (src/contracts/workflow.ts). Temporal's
 * answers are mapped here once: a closed workflow is a conflict, a refused update is a conflict,
 * anything else is Temporal unavailable.
 */
import {
  isGrpcDeadlineError,
  WorkflowContinuedAsNewError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type QueryDefinition,
  type SignalDefinition,
  type UpdateDefinition,
} from '@temporalio/client';
import type { Logger } from 'pino';
import {
  CANCEL_SIGNAL,
  CONFIGURE_UPDATE,
  PAUSE_SIGNAL,
  PROGRESS_QUERY,
  RESUME_SIGNAL,
  RETRY_FAILED_UPDATE,
  REVIEWED_UPDATE,
  type CancelSignal,
  type ConfigurePatch,
  type ConfigureResult,
  type Progress,
  type RetryFailedResult,
} from '../contracts/workflow';
import type { BatchRow } from '../db/schema';
import { progressQueriesTotal } from '../metrics/registry';
import { BatchConflict, Unavailable } from '../errors';
import type { Reconciler } from './reconcile';

// The workflow's handlers as the client sees them; only their names travel.
const signal = <Args extends unknown[]>(name: string) => ({ type: 'signal', name }) as SignalDefinition<Args>;
const update = <Ret, Args extends unknown[]>(name: string) => ({ type: 'update', name }) as UpdateDefinition<Ret, Args>;
export const cancelSignal = signal<[CancelSignal]>(CANCEL_SIGNAL);
export const pauseSignal = signal<[]>(PAUSE_SIGNAL);
export const resumeSignal = signal<[]>(RESUME_SIGNAL);
export const configureUpdate = update<ConfigureResult, [ConfigurePatch]>(CONFIGURE_UPDATE);
export const retryFailedUpdate = update<RetryFailedResult, []>(RETRY_FAILED_UPDATE);
export const reviewedUpdate = update<{ queued: boolean }, [{ seq: number }]>(REVIEWED_UPDATE);
const progressQuery = { type: 'query', name: PROGRESS_QUERY } as QueryDefinition<Progress>;

/** A progress query waits on a worker; past this the read answers from the database snapshot. */
const QUERY_DEADLINE_MS = 3_000;
/** How long a redrive waits for a finishing run to close before answering 409. */
const RUN_CLOSE_DEADLINE_MS = 30_000;

/** How a run ended: handed over to a new run, closed, or still going at the deadline. */
export type RunEnd = 'continued' | 'closed' | 'running';

export interface BatchHandle {
  signal<Args extends unknown[]>(def: SignalDefinition<Args>, ...args: Args): Promise<void>;
  /** A workflow update; its validator's refusal (the batch is stopping) is a conflict. */
  update<Ret, Args extends unknown[]>(def: UpdateDefinition<Ret, Args>, ...args: Args): Promise<Ret>;
  /** The live progress, or null when the workflow does not answer in time (the row answers then). */
  progress(): Promise<Progress | null>;
  /** Waits (bounded) until the batch's latest run has closed; a missing run counts as closed. */
  waitForClose(): Promise<void>;
  /**
   * Waits (bounded) for the batch's current run to end: `continued` when it handed over to a new
   * run, `closed` when it ended, `running` when it is still going after RUN_CLOSE_DEADLINE_MS (a run
   * that has not reached its end yet; it picks up recorded decisions there).
   */
  currentRunEnd(): Promise<RunEnd>;
}

export type HandleFor = (row: BatchRow) => BatchHandle;

export function createHandles(deps: { client: Client; log: Logger; reconciler: Pick<Reconciler, 'settle'> }): HandleFor {
  const { client, log, reconciler } = deps;

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
    if (outcome === 'failed')
      return new BatchConflict('batch has already failed: its workflow was ended outside batchflow (error terminated)');
    if (outcome === 'waiting' && row.status !== 'queued') {
      return new BatchConflict(
        "its workflow was ended outside batchflow moments ago; the batch becomes failed (error terminated) at the reconcile loop's next pass",
      );
    }
    // A queued batch whose workflow never started (its submit died): the loop starts it.
    if (outcome === 'started' || outcome === 'waiting') return new BatchConflict('the batch is still starting; retry in a moment');
    return new BatchConflict('batch has already finished');
  }

  return (row) => {
    const handle = client.workflow.getHandle(row.workflow_id);
    const ended = (name: string): RunEnd => (name === 'RUNNING' ? 'running' : name === 'CONTINUED_AS_NEW' ? 'continued' : 'closed');
    return {
      async signal(def, ...args) {
        try {
          await handle.signal(def, ...args);
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) throw await finishedConflict(row);
          throw new Unavailable('Temporal');
        }
      },

      async update<Ret, Args extends unknown[]>(def: UpdateDefinition<Ret, Args>, ...args: Args): Promise<Ret> {
        try {
          // The SDK's overloads tell updates with and without arguments apart; the definition has typed them already.
          return await handle.executeUpdate<Ret, [unknown, ...unknown[]]>(def.name, { args: args as unknown as [unknown, ...unknown[]] });
        } catch (err) {
          if (err instanceof WorkflowUpdateFailedError) throw new BatchConflict((err.cause as Error | undefined)?.message ?? err.message);
          if (err instanceof WorkflowNotFoundError) throw await finishedConflict(row);
          throw new Unavailable('Temporal');
        }
      },

      async progress() {
        try {
          const answer = await client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.query(progressQuery));
          progressQueriesTotal.inc({ outcome: 'ok' });
          return answer;
        } catch (err) {
          // A timeout is a worker too busy to answer in time, apart from a workflow or server that refused.
          progressQueriesTotal.inc({ outcome: isGrpcDeadlineError(err) ? 'timeout' : 'failed' });
          log.warn({ err, batchId: row.id }, 'progress query failed; answering from the database');
          return null;
        }
      },

      async waitForClose() {
        try {
          const { status } = await handle.describe();
          if (status.name === 'RUNNING') await client.withDeadline(Date.now() + RUN_CLOSE_DEADLINE_MS, () => handle.result());
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) return;
          // A run that ended failed or cancelled has closed all the same; only a still-running one is a conflict.
          const { status } = await handle.describe().catch(() => ({ status: { name: 'UNKNOWN' } }));
          if (status.name === 'RUNNING') throw new BatchConflict('the batch is still finishing; retry in a moment');
        }
      },

      async currentRunEnd() {
        let runId: string;
        try {
          const latest = await handle.describe();
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
      },
    };
  };
}
