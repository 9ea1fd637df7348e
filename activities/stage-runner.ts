/**
 * Runs one stage over one chunk. The runner owns what every stage shares: reading the chunk by
 * reference, picking the items this stage should act on, heartbeats and cancellation, writing
 * the results in one statement, and answering tallies computed from what is recorded, so that a
 * retried call reports the same outcome as a first one.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Kysely } from 'kysely';
import type { Stage, StageInput, StageOutcome } from '../src/contracts/workflow';
import type { Database } from '../src/db/schema';
import { loadRange, writeResults, type ResultWrite, type WorkItem } from '../src/db/items';
import { ErrorType, type ItemFailure } from './errors';

export type ItemResult =
  | { seq: number; ok: true; classification?: WorkItem['classification']; publishedId?: string }
  | { seq: number; ok: false; failure: ItemFailure }
  | { seq: number; review: true; classification: NonNullable<WorkItem['classification']> };

export interface StageContext {
  batchId: string;
  tenantId: string;
  /** Fires when Temporal cancels the activity; a handler stops starting new items. */
  signal: AbortSignal;
  /** Call after each item: it heartbeats (throttled by the SDK), which is how cancellation arrives. */
  progress(): void;
}

/**
 * What a stage does to the items it is given. It returns one result per item it got to; an item
 * it did not reach (cancelled mid-way) is simply left out and stays where it was.
 */
export type StageHandler = (items: WorkItem[], ctx: StageContext) => Promise<ItemResult[]>;

/** Whether `item` is ready for `stage`, given the stage before it in this batch. */
function isReady(item: WorkItem, previous: Stage | null): boolean {
  if (previous === null) return item.status === null || item.status === 'pending' || (item.status === 'running' && item.stage === null);
  return item.status === 'running' && item.stage === previous;
}

const passed = (item: { status: string | null; stage: Stage | null }, stage: Stage): boolean =>
  item.stage === stage && (item.status === 'running' || item.status === 'succeeded');

export async function runStage(db: Kysely<Database>, input: StageInput, handler: StageHandler): Promise<StageOutcome> {
  const ctx = Context.current();
  const attempt = ctx.info.attempt;
  const items = await loadRange(db, input.batchId, input.range);
  const ready = items.filter((i) => isReady(i, input.previousStage));
  const alreadyDone = items.filter((i) => passed(i, input.stage)).length;

  const results = ready.length === 0 ? [] : await handler(ready, {
    batchId: input.batchId,
    tenantId: input.tenantId,
    signal: ctx.cancellationSignal,
    progress: () => ctx.heartbeat(),
  });

  const bySeq = new Map(ready.map((i) => [i.seq, i]));
  const writes: ResultWrite[] = [];
  const transient: ItemFailure[] = [];
  for (const r of results) {
    const item = bySeq.get(r.seq)!;
    if ('review' in r) {
      writes.push({ seq: r.seq, ref: item.ref, status: 'needs_review', stage: input.stage, classification: r.classification, attempts: attempt });
    } else if (r.ok) {
      writes.push({
        seq: r.seq,
        ref: item.ref,
        status: input.lastStage ? 'succeeded' : 'running',
        stage: input.stage,
        classification: r.classification ?? null,
        publishedId: r.publishedId ?? null,
        error: null,
        attempts: attempt,
      });
    } else if (r.failure.retryable) {
      // Left as it was: the activity's retry picks it up again, and only it.
      transient.push(r.failure);
    } else {
      writes.push({
        seq: r.seq,
        ref: item.ref,
        status: 'failed',
        stage: input.stage,
        error: { code: r.failure.code, message: r.failure.message, retryable: false, attempts: attempt },
        attempts: attempt,
      });
    }
  }
  // Record what was done before reacting to cancellation or transient failures: work that
  // happened is never forgotten, and a retry does not repeat it.
  await writeResults(db, input.batchId, writes);

  if (ctx.cancellationSignal.aborted) await ctx.cancelled;
  if (transient.length > 0) {
    const retryAfterMs = Math.max(0, ...transient.map((f) => f.retryAfterMs ?? 0));
    throw ApplicationFailure.create({
      type: ErrorType.Transient,
      message: `${transient.length} item(s) failed transiently at ${input.stage}; first: ${transient[0]!.message}`,
      ...(retryAfterMs > 0 ? { nextRetryDelay: retryAfterMs } : {}),
    });
  }

  const recorded = new Map(writes.map((w) => [w.seq, w]));
  const outcome: StageOutcome = { succeeded: 0, failed: 0, needsReview: 0, alreadyDone };
  for (const item of items) {
    const now = recorded.get(item.seq) ?? item;
    if (now.stage !== input.stage) continue;
    if (passed(now, input.stage)) outcome.succeeded++;
    else if (now.status === 'failed') outcome.failed++;
    else if (now.status === 'needs_review') outcome.needsReview++;
  }
  return outcome;
}
