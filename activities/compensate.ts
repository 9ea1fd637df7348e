/**
 * The saga's undo step for one chunk: for each item in scope, the stages' undos run last stage
 * first (publish's, then ingest's: the reverse of the order they were done in), and each item's
 * end is recorded. An undo that keeps failing leaves the item `orphaned`, with its remote id and
 * the error: never silent.
 *
 * Each stage's undo lives with the stage: stages/publish/undo.ts, stages/ingest/undo.ts. Classify
 * has none: it writes only the item's own result, the row on which the writes below record the
 * item's end; it leaves nothing elsewhere to take back.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Kysely } from 'kysely';
import type { CompensateInput, CompensateOutcome, CompensationScope } from '../src/contracts/workflow';
import type { Database, ItemError } from '../src/db/schema';
import { clearPublishSent, loadRange, writeResults, type ResultWrite, type WorkItem } from '../src/db/items';
import { ErrorType } from './errors';
import type { Unstager } from './stages/ingest/undo';
import { inDoubt, type PublishUndo } from './stages/publish/undo';

/** The undos of the stages that leave effects outside the item's own result. */
export interface StageUndos {
  publish: PublishUndo;
  ingest: Unstager;
}

export const compensationActivities = (db: Kysely<Database>, undo: StageUndos) => ({
  /** The saga's undo step for one chunk. */
  async compensate(input: CompensateInput): Promise<CompensateOutcome> {
    return compensateChunk(db, undo, input);
  },
});

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

async function compensateChunk(db: Kysely<Database>, undo: StageUndos, input: CompensateInput): Promise<CompensateOutcome> {
  const ctx = Context.current();
  const finalAttempt = ctx.info.attempt >= input.maxAttempts;
  const loaded = await loadRange(db, input.batchId, input.range);
  const items = loaded
    .map((item) => ({ item, ends: target(item, input.scope) }))
    .filter((t): t is { item: WorkItem; ends: 'failed' | 'compensated' } => t.ends !== null);
  if (items.length === 0) return { undone: 0, orphaned: 0 };

  // Publish's undo first (the last stage first): the remote item is the effect that matters most
  // to leave behind. It resolves publishes in doubt, and unpublishes.
  const { failures: undoErrors, resolved } = await undo.publish(
    input.batchId,
    items.map(({ item }) => item),
    () => ctx.heartbeat(),
  );

  // A transient failure is worth another activity attempt, unless this is the last one.
  const retryLater = [...undoErrors.values()].filter((e) => e.retryable);
  const stillRetrying = retryLater.length > 0 && !finalAttempt;

  // Then ingest's undo: unstage every item in scope, with its chunks and any blob no other staged item uses: staging
  // is ours, so this only fails if the database or the blob store does (and is then retried).
  // Asked of every item in scope, not only those flagged staged: a call that staged items and then
  // died before recording it leaves records that only the database knows about.
  await undo.ingest(
    { tenantId: input.tenantId, batchId: input.batchId },
    items.map(({ item }) => item.ref),
  );

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
      const error: ItemError = {
        code: 'compensation_failed',
        message: `${what}: ${failure.message}`,
        retryable: failure.retryable,
        attempts: ctx.info.attempt,
      };
      writes.push({ ...write(item, 'orphaned', { staged: false, published: item.published }), error });
      continue;
    }
    undone++;
    writes.push(write(item, ends, { staged: false, published: false }));
  }
  await writeResults(db, input.batchId, writes);
  // Asked and answered: a later undo (a retry, or the batch's rollback after an item's) need not ask again.
  await clearPublishSent(
    db,
    input.batchId,
    resolved.filter((seq) => !undoErrors.has(seq)),
  );

  if (stillRetrying) {
    throw ApplicationFailure.create({
      type: ErrorType.Transient,
      message: `${retryLater.length} unpublish(es) failed transiently; first: ${retryLater[0]!.message}`,
    });
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
