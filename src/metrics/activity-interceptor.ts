/**
 * One interceptor per activity call, for metrics and logs, without touching activity code:
 * - its duration, by activity type and outcome;
 * - the items it recorded, from the outcome the stage activities already return (the tallies after
 *   the call minus those before it, so a retried call that redoes nothing counts nothing);
 * - compensation results (undone, orphaned) from compensate's outcome, and items a failed chunk
 *   ended `failed` (failRange);
 * - log attributes: every `log.*` of the activity (and the SDK's own activity lines) carries the
 *   call's batchId, stage and chunk.
 */
import { CancelledFailure, type Context } from '@temporalio/activity';
import type { ActivityInterceptors } from '@temporalio/worker';
import type { CompensateOutcome, StageInput, StageOutcome } from '../contracts/workflow';
import { activityDuration, compensationsTotal, itemsTotal } from './registry';

const STAGES = new Set(['classify', 'ingest', 'publish']);

type Args = { batchId?: unknown; stage?: unknown; chunkIndex?: unknown; range?: unknown };

/** The fields worth putting on a log line, from an activity's first argument (most take an object with a batchId). */
function logFields(arg: unknown): Record<string, unknown> {
  if (typeof arg === 'string') return { batchId: arg }; // markBatchStarted(batchId)
  if (!arg || typeof arg !== 'object') return {};
  const a = arg as Args;
  const out: Record<string, unknown> = {};
  if (typeof a.batchId === 'string') out.batchId = a.batchId;
  if (typeof a.stage === 'string') out.stage = a.stage;
  if (typeof a.chunkIndex === 'number') out.chunk = a.chunkIndex;
  return out;
}

/** Counts what one call did from what it returned. Exported for the unit test. */
export function countOutcome(activity: string, input: unknown, result: unknown): void {
  if (STAGES.has(activity)) {
    const stage = (input as StageInput).stage;
    const o = result as StageOutcome;
    const before = o.before ?? { succeeded: 0, failed: 0, needsReview: 0 };
    const add = (outcome: string, n: number): void => {
      if (n > 0) itemsTotal.inc({ stage, outcome }, n);
    };
    add('succeeded', o.succeeded - before.succeeded);
    add('failed', o.failed - before.failed);
    add('needs_review', o.needsReview - before.needsReview);
    add('retried', o.transient);
  } else if (activity === 'failRange') {
    const stage = (input as { stage: string }).stage;
    if (typeof result === 'number' && result > 0) itemsTotal.inc({ stage, outcome: 'failed' }, result);
  } else if (activity === 'compensate') {
    const o = result as CompensateOutcome;
    if (o.undone > 0) compensationsTotal.inc({ outcome: 'undone' }, o.undone);
    if (o.orphaned > 0) compensationsTotal.inc({ outcome: 'orphaned' }, o.orphaned);
  }
}

export function metricsInterceptors(ctx: Context): ActivityInterceptors {
  let fields: Record<string, unknown> = {};
  return {
    inbound: {
      async execute(input, next) {
        const activity = ctx.info.activityType;
        fields = logFields(input.args[0]);
        const stop = activityDuration.startTimer({ activity });
        try {
          const result = await next(input);
          stop({ outcome: 'completed' });
          try {
            countOutcome(activity, input.args[0], result);
          } catch {
            // A metric must never fail the activity it measures.
          }
          return result;
        } catch (err) {
          stop({ outcome: err instanceof CancelledFailure ? 'cancelled' : 'failed' });
          throw err;
        }
      },
    },
    outbound: {
      getLogAttributes(input, next) {
        return next({ ...input, ...fields });
      },
    },
  };
}
