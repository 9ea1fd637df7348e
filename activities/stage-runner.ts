/**
 * Runs one stage over one chunk. The runner owns what every stage shares: reading the chunk by
 * reference, picking the items this stage should act on, heartbeats and cancellation, writing
 * the results in one statement, and answering tallies computed from what is recorded, so that a
 * retried call reports the same outcome as a first one.
 */
import { Context } from '@temporalio/activity';
import type { Kysely } from 'kysely';
import type { Stage, StageInput, StageOutcome } from '../src/contracts/workflow';
import type { Database } from '../src/db/schema';
import { loadRange, writeResults, type ResultWrite, type WorkItem } from '../src/db/items';
import type { ItemFailure } from './errors';

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

/** The effect a successful stage leaves behind, on top of what the item already had. */
function effectsAfter(stage: Stage, item: WorkItem, ok: boolean): { staged: boolean; published: boolean } {
  return {
    staged: item.staged || (ok && stage === 'ingest'),
    published: item.published || (ok && stage === 'publish'),
  };
}

export async function runStage(db: Kysely<Database>, input: StageInput, handler: StageHandler): Promise<StageOutcome> {
  const ctx = Context.current();
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
  let transient = 0;
  let retryAfterMs = 0;
  const finalAttempt = input.attempt >= input.maxAttempts;
  for (const r of results) {
    const item = bySeq.get(r.seq)!;
    const base = { seq: r.seq, ref: item.ref, stage: input.stage, attempts: input.attempt };
    if ('review' in r) {
      writes.push({ ...base, status: 'needs_review', classification: r.classification, ...effectsAfter(input.stage, item, false) });
    } else if (r.ok) {
      writes.push({
        ...base,
        status: input.lastStage ? 'succeeded' : 'running',
        classification: r.classification ?? null,
        publishedId: r.publishedId ?? null,
        error: null,
        ...effectsAfter(input.stage, item, true),
      });
    } else if (r.failure.retryable && !finalAttempt) {
      // Left as it was: the workflow dispatches the chunk's open items again after a backoff.
      transient++;
      retryAfterMs = Math.max(retryAfterMs, r.failure.retryAfterMs ?? 0);
    } else {
      writes.push({
        ...base,
        status: 'failed',
        error: { code: r.failure.code, message: r.failure.message, retryable: r.failure.retryable, attempts: input.attempt },
        ...effectsAfter(input.stage, item, false),
      });
    }
  }
  // Record what was done before reacting to cancellation: work that happened is never
  // forgotten, and a retry does not repeat it.
  await writeResults(db, input.batchId, writes);
  if (ctx.cancellationSignal.aborted) await ctx.cancelled;

  const recorded = new Map(writes.map((w) => [w.seq, w]));
  const now = tallyAt(items.map((item) => recorded.get(item.seq) ?? item), input.stage);
  return { ...now, before: tallyAt(items, input.stage), alreadyDone, transient, retryAfterMs };
}

function tallyAt(items: Array<{ status: string | null; stage: Stage | null }>, stage: Stage): { succeeded: number; failed: number; needsReview: number } {
  const t = { succeeded: 0, failed: 0, needsReview: 0 };
  for (const item of items) {
    if (item.stage !== stage) continue;
    if (passed(item, stage)) t.succeeded++;
    else if (item.status === 'failed') t.failed++;
    else if (item.status === 'needs_review') t.needsReview++;
  }
  return t;
}
