/**
 * The retention schedule: the worker installs it at start, and POST /v1/batches/cleanup runs the
 * same workflow at once for one tenant.
 */
import { isDeepStrictEqual } from 'node:util';
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleDescription } from '@temporalio/client';
import { ulid } from 'ulid';
import type { RetentionInput, RetentionResult, retentionWorkflow } from '../../workflows/retention';

/** The workflow's registered name (its function's name); workflow code is imported as types only. */
export const RETENTION_WORKFLOW_TYPE = 'retentionWorkflow';

/** Hourly: a batch goes within the hour after it passes its age, and a run with nothing to do is one query. */
export const RETENTION_EVERY_MS = 60 * 60 * 1000;

export interface RetentionScheduleOptions {
  /** The normal task queue; the schedule starts its runs there. */
  taskQueue: string;
  /** BATCH_RETENTION_DAYS. */
  retentionDays: number;
  /** Default `${taskQueue}-retention`, so deployments (and tests) sharing a namespace keep apart. */
  scheduleId?: string;
  /** Default RETENTION_EVERY_MS. */
  everyMs?: number;
}

export interface InstallResult {
  scheduleId: string;
  outcome: 'created' | 'updated' | 'unchanged' | 'failed';
  error?: unknown;
}

export const retentionScheduleId = (taskQueue: string): string => `${taskQueue}-retention`;

/**
 * Creates the schedule, or brings an existing one in line with these options (the interval, the
 * retention days, the task queue). Every worker calls it at start, so it is idempotent and races
 * are harmless; a schedule an operator paused stays paused. Never throws: a worker whose schedule
 * could not be installed still runs batches, and says why in the answer.
 */
export async function installRetentionSchedule(client: Client, opts: RetentionScheduleOptions): Promise<InstallResult> {
  const scheduleId = opts.scheduleId ?? retentionScheduleId(opts.taskQueue);
  const everyMs = opts.everyMs ?? RETENTION_EVERY_MS;
  const args: [RetentionInput] = [{ olderThanDays: opts.retentionDays }];
  const action = {
    type: 'startWorkflow' as const,
    workflowType: RETENTION_WORKFLOW_TYPE,
    taskQueue: opts.taskQueue,
    workflowId: scheduleId,
    args,
  };
  const spec = { intervals: [{ every: everyMs }] };
  try {
    try {
      await client.schedule.create({
        scheduleId,
        spec,
        action,
        // A run still going when the next is due (a large backlog) is left to finish alone.
        policies: { overlap: ScheduleOverlapPolicy.SKIP },
      });
      return { scheduleId, outcome: 'created' };
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    }
    const handle = client.schedule.getHandle(scheduleId);
    if (matches(await handle.describe(), { everyMs, taskQueue: opts.taskQueue, args })) return { scheduleId, outcome: 'unchanged' };
    await handle.update((previous) => ({ ...previous, spec, action }));
    return { scheduleId, outcome: 'updated' };
  } catch (error) {
    return { scheduleId, outcome: 'failed', error };
  }
}

function matches(d: ScheduleDescription, want: { everyMs: number; taskQueue: string; args: unknown[] }): boolean {
  const intervals = d.spec.intervals ?? [];
  return (
    intervals.length === 1 &&
    intervals[0]!.every === want.everyMs &&
    !d.spec.calendars?.length &&
    d.action.workflowType === RETENTION_WORKFLOW_TYPE &&
    d.action.taskQueue === want.taskQueue &&
    isDeepStrictEqual(d.action.args, want.args)
  );
}

/**
 * Runs retention now for one tenant and waits for its answer: the schedule's own workflow, so the
 * API's cleanup and the hourly one delete exactly alike.
 */
export async function runRetention(
  client: Client,
  opts: { taskQueue: string; tenantId: string; olderThanDays: number },
): Promise<RetentionResult> {
  return client.workflow.execute<typeof retentionWorkflow>(RETENTION_WORKFLOW_TYPE, {
    workflowId: `cleanup-${opts.tenantId}-${ulid()}`,
    taskQueue: opts.taskQueue,
    args: [{ olderThanDays: opts.olderThanDays, tenantId: opts.tenantId }],
  });
}
