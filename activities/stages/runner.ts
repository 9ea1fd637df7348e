/**
 * Runs one stage over one chunk. The runner owns what every stage shares: reading the chunk by
 * reference, picking the items this stage should act on, the stage's rate limit, heartbeats and
 * cancellation, writing the results in one statement (one per slice when a rate limit slices the
 * chunk), and answering tallies computed from what is recorded, so that a retried call reports
 * the same outcome as a first one.
 */
import { Context, log } from '@temporalio/activity';
import type { Kysely } from 'kysely';
import type { Cost, Stage, StageInput, StageOutcome } from '../../src/contracts/workflow';
import type { Database } from '../../src/db/schema';
import { clearPublishSent, loadRange, markPublishSent, writeResults, type ResultWrite, type WorkItem } from '../../src/db/items';
import type { ItemFailure } from '../errors';
import { acquire, type RateLimit } from '../rate-limit';

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

/**
 * A stage as createActivities wires it: its handler, and the undo of the effects it leaves
 * outside the item's own result, which the saga's compensation calls (activities/compensate.ts).
 * A stage that leaves no such effect says so with `undo: null`.
 */
export interface StageModule<Undo = null> {
  handler: StageHandler;
  undo: Undo;
}

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

/**
 * Runs `handler` over the chunk's ready items. With a `limit` (items per window, shared by every
 * worker) the items go in slices of what the limiter grants: take a grant, hand that many items
 * to the handler, record them, take the next, so a 25-item chunk under 10 a minute takes three
 * grants and about two minutes.
 */
export async function runStage(db: Kysely<Database>, input: StageInput, handler: StageHandler, limit?: RateLimit): Promise<StageOutcome> {
  const ctx = Context.current();
  const items = await loadRange(db, input.batchId, input.range);
  const ready = items.filter((i) => isReady(i, input.previousStage));
  const alreadyDone = items.filter((i) => passed(i, input.stage)).length;
  const stageCtx: StageContext = {
    batchId: input.batchId,
    tenantId: input.tenantId,
    signal: ctx.cancellationSignal,
    progress: () => ctx.heartbeat(),
  };

  const bySeq = new Map(ready.map((i) => [i.seq, i]));
  const writes: ResultWrite[] = [];
  let transient = 0;
  let retryAfterMs = 0;
  const finalAttempt = input.attempt >= input.maxAttempts;
  const toWrites = (results: ItemResult[]): ResultWrite[] => {
    const out: ResultWrite[] = [];
    for (const r of results) {
      const item = bySeq.get(r.seq)!;
      const base = { seq: r.seq, ref: item.ref, stage: input.stage, attempts: input.attempt };
      if ('review' in r) {
        out.push({ ...base, status: 'needs_review', classification: r.classification, ...effectsAfter(input.stage, item, false) });
      } else if (r.ok) {
        out.push({
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
        out.push({
          ...base,
          status: 'failed',
          error: { code: r.failure.code, message: r.failure.message, retryable: r.failure.retryable, attempts: input.attempt },
          ...effectsAfter(input.stage, item, false),
        });
      }
    }
    return out;
  };

  // Without a limit the whole chunk is one slice. The grant is taken before the calls: an item
  // that then fails transiently has still used its slot, and its retry takes another, because a
  // retry is one more call to the downstream, which is what the limit protects.
  let next = 0;
  while (next < ready.length && !ctx.cancellationSignal.aborted) {
    const wanted = ready.length - next;
    const size = limit
      ? await acquire(db, input.stage, limit, wanted, {
          signal: ctx.cancellationSignal,
          heartbeat: () => ctx.heartbeat(),
          onWait: (ms) => log.debug('stage rate limit reached; waiting for a slot', { stage: input.stage, waitMs: ms, wanted }),
        })
      : wanted;
    if (size === 0) break; // cancelled while waiting
    const slice = ready.slice(next, next + size);
    next += size;
    // A publish is recorded as possibly sent before it goes: if this worker dies between the
    // target's answer and writeResults, compensation knows to ask the target (issue 13).
    if (input.stage === 'publish') await markPublishSent(db, input.batchId, slice);
    const results = await handler(slice, stageCtx);
    const done = toWrites(results);
    // Record what was done before reacting to cancellation: work that happened is never
    // forgotten, and a retry does not repeat it. A slow, sliced chunk records slice by slice, so
    // a worker lost minutes into it loses at most one slice.
    await writeResults(db, input.batchId, done);
    writes.push(...done);
    if (input.stage === 'publish' && results.length < slice.length) {
      // Items the handler never reached (cancelled mid-slice) were never sent: not in doubt.
      const reached = new Set(results.map((r) => r.seq));
      await clearPublishSent(
        db,
        input.batchId,
        slice.filter((i) => !reached.has(i.seq)).map((i) => i.seq),
      );
    }
  }
  if (ctx.cancellationSignal.aborted) await ctx.cancelled;

  const recorded = new Map(writes.map((w) => [w.seq, w]));
  const now = tallyAt(
    items.map((item) => recorded.get(item.seq) ?? item),
    input.stage,
  );
  return { ...now, before: tallyAt(items, input.stage), alreadyDone, transient, retryAfterMs };
}

type Tallied = { status: string | null; stage: Stage | null; classification?: WorkItem['classification'] };

function tallyAt(items: Tallied[], stage: Stage): { succeeded: number; failed: number; needsReview: number; cost?: Cost } {
  const t = { succeeded: 0, failed: 0, needsReview: 0 };
  const cost: Cost = { total: 0, by_tier: {} };
  for (const item of items) {
    if (item.stage !== stage) continue;
    if (passed(item, stage)) t.succeeded++;
    else if (item.status === 'failed') t.failed++;
    else if (item.status === 'needs_review') t.needsReview++;
    const c = item.classification;
    if (stage === 'classify' && c) {
      cost.total += c.cost ?? 0;
      cost.by_tier[c.tier] = (cost.by_tier[c.tier] ?? 0) + 1;
    }
  }
  return stage === 'classify' ? { ...t, cost } : t;
}
