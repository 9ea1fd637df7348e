/**
 * The saga's undo step for one chunk: for each item in scope, unpublish, then unstage (the reverse
 * of the order they were done in), and record where each item ended. An undo that keeps failing
 * leaves the item `orphaned`, with its remote id and the error: never silent.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Kysely } from 'kysely';
import type { CompensateInput, CompensateOutcome, CompensationScope } from '../src/contracts/workflow';
import type { Database, ItemError } from '../src/db/schema';
import { clearPublishSent, loadRange, writeResults, type ResultWrite, type WorkItem } from '../src/db/items';
import { ErrorType } from './errors';
import type { PublishResolver, Unpublisher } from './stages/publish/undo';
import type { Unstager } from './stages/ingest/undo';

/**
 * An item whose publish may have created the remote item without anyone recording its id: the
 * target must be asked before the item can be called clean. That is any item a publish request
 * may have gone out for (`publish_sent`, written before the request) with no recorded answer: a
 * worker that died mid-call, a timeout, a 5xx. A 4xx rejection is a definite "no".
 */
function inDoubt(item: WorkItem): boolean {
  if (item.published || !item.publish_sent) return false;
  if (item.status === 'failed') return item.error?.retryable !== false;
  return item.status === null || item.status === 'pending' || item.status === 'running';
}

/** Which items of the chunk the scope undoes, and the status each then ends in. */
function target(item: WorkItem, scope: CompensationScope): 'failed' | 'compensated' | null {
  const effects = item.staged || item.published || inDoubt(item);
  if (item.status === 'failed') return effects ? 'failed' : null;
  if (scope === 'failed') return null;
  // Running, or (publish as the first stage) still pending with a publish in doubt.
  if (item.status === 'running' || inDoubt(item)) return 'compensated';
  if (scope === 'all' && item.status === 'succeeded') return 'compensated';
  return null;
}

const UNDO_CONCURRENCY = 8;

export async function compensateChunk(
  db: Kysely<Database>,
  unpublish: Unpublisher,
  resolve: PublishResolver,
  unstage: Unstager,
  input: CompensateInput,
): Promise<CompensateOutcome> {
  const ctx = Context.current();
  const finalAttempt = ctx.info.attempt >= input.maxAttempts;
  const loaded = await loadRange(db, input.batchId, input.range);
  const items = loaded
    .map((item) => ({ item, ends: target(item, input.scope) }))
    .filter((t): t is { item: WorkItem; ends: 'failed' | 'compensated' } => t.ends !== null);
  if (items.length === 0) return { undone: 0, orphaned: 0 };

  // Unpublish first: the remote item is the effect that matters most to leave behind.
  const undoErrors = new Map<number, { retryable: boolean; message: string }>();
  /** In-doubt items the target answered for: found (and then unpublished below) or not there. */
  const resolved: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const { item } = items[next++]!;
      if (inDoubt(item)) {
        const found = await resolve(input.batchId, item);
        if ('error' in found) {
          undoErrors.set(item.seq, { retryable: true, message: `publish outcome unknown: ${found.error}` });
          continue;
        }
        resolved.push(item.seq);
        if (found.id === null) continue;
        item.published = true;
        item.published_id = found.id;
      }
      if (!item.published || !item.published_id) continue;
      const res = await unpublish(item.published_id);
      if (!res.ok) undoErrors.set(item.seq, res);
      ctx.heartbeat();
    }
  };
  await Promise.all(Array.from({ length: UNDO_CONCURRENCY }, worker));

  // A transient failure is worth another activity attempt, unless this is the last one.
  const retryLater = [...undoErrors.values()].filter((e) => e.retryable);
  const stillRetrying = retryLater.length > 0 && !finalAttempt;

  // Unstage every item in scope, with its chunks and any blob no other staged item uses: staging
  // is ours, so this only fails if the database or the blob store does (and is then retried).
  // Asked of every item in scope, not only those flagged staged: a call that staged items and then
  // died before recording it leaves records that only the database knows about.
  await unstage({ tenantId: input.tenantId, batchId: input.batchId }, items.map(({ item }) => item.ref));

  const writes: ResultWrite[] = [];
  let undone = 0;
  let orphaned = 0;
  for (const { item, ends } of items) {
    const failure = undoErrors.get(item.seq);
    if (failure?.retryable && stillRetrying) {
      // Staging is already undone; the remote item waits for the next attempt.
      writes.push(write(item, item.status as 'running' | 'succeeded' | 'failed', { staged: false, published: item.published }));
      continue;
    }
    if (failure) {
      orphaned++;
      const what = item.published_id ? `could not unpublish ${item.published_id}` : 'could not confirm the item is not at the target';
      const error: ItemError = { code: 'compensation_failed', message: `${what}: ${failure.message}`, retryable: failure.retryable, attempts: ctx.info.attempt };
      writes.push({ ...write(item, 'orphaned', { staged: false, published: item.published }), error });
      continue;
    }
    undone++;
    writes.push(write(item, ends, { staged: false, published: false }));
  }
  await writeResults(db, input.batchId, writes);
  // Asked and answered: a later undo (a retry, or the batch's rollback after an item's) need not ask again.
  await clearPublishSent(db, input.batchId, resolved.filter((seq) => !undoErrors.has(seq)));

  if (stillRetrying) {
    throw ApplicationFailure.create({ type: ErrorType.Transient, message: `${retryLater.length} unpublish(es) failed transiently; first: ${retryLater[0]!.message}` });
  }
  return { undone, orphaned };
}

function write(item: WorkItem, status: ResultWrite['status'], effects: { staged: boolean; published: boolean }): ResultWrite {
  return {
    seq: item.seq,
    ref: item.ref,
    status,
    stage: item.stage ?? 'classify',
    classification: item.classification,
    publishedId: item.published_id,
    // A failed item keeps the error it failed with; undoing its effects does not change why.
    error: status === 'failed' ? item.error : null,
    attempts: item.attempts,
    ...effects,
  };
}
