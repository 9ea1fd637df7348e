/** Queries on batches and their items' input. */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { BatchStatus, Cost, Counts } from '../contracts/workflow';
import type { BatchRow, Database, NewBatchRow } from './schema';
import { redactPaths } from './public-error';
import { decodeCursor, encodeCursor, isKey, isTime } from './cursor';
import { staleCondition } from './retention';
import { ACTIVE_STATUSES } from './limits';
import { BadCursor } from '../errors';

type Q = Kysely<Database> | Transaction<Database>;

/**
 * Rows per INSERT … SELECT FROM unnest(...): one statement carries a whole slice as 7 array
 * parameters, so a 50,000-item batch is 10 round trips, and no statement nears PostgreSQL's
 * 65,535-parameter limit.
 */
const ITEM_INSERT_SLICE = 5_000;

/** An item of a new batch, as the submission checked it. */
export interface NewItem {
  ref: string;
  text: string | null;
  content: string | null;
  contentType: string | null;
  attributes: Record<string, unknown> | null;
}

export async function insertItems(q: Q, batchId: string, items: NewItem[]): Promise<void> {
  for (let start = 0; start < items.length; start += ITEM_INSERT_SLICE) {
    const slice = items.slice(start, start + ITEM_INSERT_SLICE);
    await sql`
      insert into batch_items (batch_id, seq, ref, text, content_b64, content_type, attributes)
      select ${batchId}, seq, ref, text, content_b64, content_type, attributes::jsonb
      from unnest(
        ${slice.map((_, i) => start + i)}::int[],
        ${slice.map((i) => i.ref)}::text[],
        ${slice.map((i) => i.text)}::text[],
        ${slice.map((i) => i.content)}::text[],
        ${slice.map((i) => i.contentType)}::text[],
        ${slice.map((i) => (i.attributes ? JSON.stringify(i.attributes) : null))}::text[]
      ) as t(seq, ref, text, content_b64, content_type, attributes)`.execute(q);
  }
}

/**
 * Inserts the batch row and all its items in one transaction: both exist, or neither does.
 * `guard` runs first in that transaction (the per-key limits take their lock there); when it
 * answers false nothing is inserted, and neither is returned.
 */
export async function insertBatch(
  db: Kysely<Database>,
  row: NewBatchRow,
  items: NewItem[],
  guard?: (tx: Transaction<Database>) => Promise<boolean>,
): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    if (guard && !(await guard(tx))) return false;
    await tx.insertInto('batches').values(row).execute();
    await insertItems(tx, row.id, items);
    return true;
  });
}

export async function findByIdempotencyKey(q: Q, tenantId: string, key: string): Promise<BatchRow | undefined> {
  return q.selectFrom('batches').selectAll().where('tenant_id', '=', tenantId).where('idempotency_key', '=', key).executeTakeFirst();
}

/** Removes a batch whose workflow could not be started, so a failed submission leaves nothing. */
export async function deleteBatch(q: Q, batchId: string): Promise<void> {
  await q.deleteFrom('batches').where('id', '=', batchId).execute();
}

export async function getBatch(q: Q, tenantId: string, batchId: string): Promise<BatchRow | undefined> {
  return q.selectFrom('batches').selectAll().where('id', '=', batchId).where('tenant_id', '=', tenantId).executeTakeFirst();
}

export async function getBatchById(q: Q, batchId: string): Promise<BatchRow | undefined> {
  return q.selectFrom('batches').selectAll().where('id', '=', batchId).executeTakeFirst();
}

interface BatchCursor {
  t: string;
  id: string;
}
const isBatchCursor = (v: unknown): v is BatchCursor =>
  typeof v === 'object' && v !== null && isTime((v as BatchCursor).t) && isKey((v as BatchCursor).id);

/** Newest first; the cursor is the last row's (created_at, id), so pages stay stable as batches arrive. */
export async function listBatches(
  q: Q,
  tenantId: string,
  opts: { status?: BatchStatus; limit: number; cursor?: string; stale?: boolean; staleBefore?: Date },
): Promise<{ rows: BatchRow[]; nextCursor: string | null }> {
  let query = q.selectFrom('batches').selectAll().where('tenant_id', '=', tenantId);
  if (opts.status) query = query.where('status', '=', opts.status);
  // stale: only the batches unfinished since before staleBefore; stale=false: only the others.
  if (opts.stale !== undefined && opts.staleBefore) {
    const stale = staleCondition(opts.staleBefore);
    query = query.where(opts.stale ? stale : sql<boolean>`not ${stale}`);
  }
  if (opts.cursor) {
    const c = decodeCursor(opts.cursor, isBatchCursor);
    if (!c) throw new BadCursor('cursor is not valid');
    query = query.where(({ eb, refTuple, tuple }) => eb(refTuple('created_at', 'id'), '<', tuple(new Date(c.t), c.id)));
  }
  const rows = await query
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(opts.limit + 1)
    .execute();
  const page = rows.slice(0, opts.limit);
  const last = page[page.length - 1];
  const nextCursor = rows.length > opts.limit && last ? encodeCursor({ t: last.created_at.toISOString(), id: last.id }) : null;
  return { rows: page, nextCursor };
}

/** Newest first by offset, with the total: the part-number design's paging (`GET /api/batches`). */
export async function listBatchesByOffset(
  q: Q,
  tenantId: string,
  opts: { status?: BatchStatus[]; limit: number; offset: number },
): Promise<{ rows: BatchRow[]; total: number }> {
  let query = q.selectFrom('batches').where('tenant_id', '=', tenantId);
  if (opts.status) query = query.where('status', 'in', opts.status);
  const [rows, total] = await Promise.all([
    query.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(opts.limit).offset(opts.offset).execute(),
    query.select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}

/** Where a reconcile pass stopped: the last row it checked, in (created_at, id) order. */
export interface ActiveCursor {
  createdAt: Date;
  id: string;
}

/**
 * One page of the batches that hold an active slot (queued, running, paused, cancelling), oldest
 * first, after `cursor`. The reconcile loop walks all of them in this order, so a backlog of
 * healthy batches at the front cannot keep it from ever reaching one further back.
 */
export async function listActiveAfter(q: Q, cursor: ActiveCursor | undefined, limit: number): Promise<BatchRow[]> {
  let query = q
    .selectFrom('batches')
    .selectAll()
    .where('status', 'in', [...ACTIVE_STATUSES]);
  if (cursor) query = query.where(({ eb, refTuple, tuple }) => eb(refTuple('created_at', 'id'), '>', tuple(cursor.createdAt, cursor.id)));
  return query.orderBy('created_at', 'asc').orderBy('id', 'asc').limit(limit).execute();
}

export async function markStarted(q: Q, batchId: string): Promise<void> {
  await q
    .updateTable('batches')
    .set({ status: 'running', started_at: sql<Date>`coalesce(started_at, now())`, updated_at: sql<Date>`now()` })
    .where('id', '=', batchId)
    .where('status', '=', 'queued')
    .execute();
}

export async function saveSnapshot(q: Q, batchId: string, status: BatchStatus, counts: Counts): Promise<void> {
  await q
    .updateTable('batches')
    .set({ status, counts: JSON.stringify(counts), updated_at: sql<Date>`now()` })
    .where('id', '=', batchId)
    .execute();
}

export async function finishBatch(
  q: Q,
  batchId: string,
  final: { status: BatchStatus; counts: Counts; rolledBack: boolean; error: { code: string; message: string } | null; cost?: Cost },
): Promise<void> {
  await q
    .updateTable('batches')
    .set({
      status: final.status,
      counts: JSON.stringify(final.counts),
      rolled_back: final.rolledBack,
      // Shown to the tenant in every batch body, like an item's error (public-error.ts).
      error: final.error ? JSON.stringify({ ...final.error, message: redactPaths(final.error.message) }) : null,
      ...(final.cost ? { cost: JSON.stringify(final.cost) } : {}),
      completed_at: sql<Date>`coalesce(completed_at, now())`,
      updated_at: sql<Date>`now()`,
    })
    .where('id', '=', batchId)
    .execute();
}

/** A finished batch runs again (redrive): it is running, and not finished, until its new run ends. */
export async function reopen(q: Q, batchId: string): Promise<void> {
  await q
    .updateTable('batches')
    .set({ status: 'running', completed_at: null, error: null, updated_at: sql<Date>`now()` })
    .where('id', '=', batchId)
    .execute();
}

/**
 * Mirrors a control action (pause, resume, cancel) in the row that lists and filters read, unless
 * the batch has already finished: a final status is never overwritten.
 */
export async function setActiveStatus(q: Q, batchId: string, status: 'running' | 'paused' | 'cancelling'): Promise<void> {
  await q
    .updateTable('batches')
    .set({ status, updated_at: sql<Date>`now()` })
    .where('id', '=', batchId)
    .where('status', 'not in', ['completed', 'partial', 'failed', 'cancelled'])
    .execute();
}
