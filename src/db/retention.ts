/**
 * Age-based housekeeping queries: which batches are stale (unfinished for too long, reported and
 * never failed for it), and deleting finished batches past their retention.
 */
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import { TERMINAL_BATCH_STATUSES } from '../contracts/workflow';
import type { BatchRow, Database } from './schema';

type Q = Kysely<Database> | Transaction<Database>;

/**
 * The statuses in which a batch can be stale. `paused` is not one: a pause is an operator's
 * deliberate hold, not work that went missing. `cancelling` is not either: cancelling it again
 * would change nothing.
 */
export const STALE_STATUSES = ['queued', 'running'] as const;

/** STALE_BATCH_MINUTES' default: two hours, far beyond what a batch waits in a healthy queue. */
export const DEFAULT_STALE_AFTER_MS = 120 * 60_000;

/** Whether a batch in `status`, created at `createdAt`, is stale at `now`. */
export const isStale = (status: string, createdAt: Date, staleAfterMs: number, now = Date.now()): boolean =>
  (STALE_STATUSES as readonly string[]).includes(status) && createdAt.getTime() < now - staleAfterMs;

/** The SQL form of isStale, for a batch created before `before`. */
export const staleCondition = (before: Date): RawBuilder<boolean> =>
  sql<boolean>`(status in (${sql.join(STALE_STATUSES)}) and created_at < ${before})`;

/** Stale batches of every tenant (or of one), oldest first, paged by the last (created_at, id) seen. */
export async function listStale(
  q: Q,
  opts: { before: Date; tenantId?: string; limit: number; after?: { createdAt: Date; id: string } },
): Promise<BatchRow[]> {
  let query = q.selectFrom('batches').selectAll().where(staleCondition(opts.before));
  if (opts.tenantId) query = query.where('tenant_id', '=', opts.tenantId);
  const after = opts.after;
  if (after) query = query.where(({ eb, refTuple, tuple }) => eb(refTuple('created_at', 'id'), '>', tuple(after.createdAt, after.id)));
  return query.orderBy('created_at').orderBy('id').limit(opts.limit).execute();
}

/**
 * A finished batch is past retention once it finished before the cutoff. A finished row always has
 * completed_at (finishBatch sets it); updated_at stands in should one ever lack it.
 */
const expired = (before: Date): RawBuilder<boolean> =>
  sql<boolean>`(status in (${sql.join([...TERMINAL_BATCH_STATUSES])}) and coalesce(completed_at, updated_at) < ${before})`;

/** Up to `limit` batches past retention, the longest finished first. */
export async function listExpired(q: Q, opts: { before: Date; tenantId?: string; limit: number }): Promise<string[]> {
  let query = q.selectFrom('batches').select('id').where(expired(opts.before));
  if (opts.tenantId) query = query.where('tenant_id', '=', opts.tenantId);
  const rows = await query
    .orderBy(sql`coalesce(completed_at, updated_at)`)
    .orderBy('id')
    .limit(opts.limit)
    .execute();
  return rows.map((r) => r.id);
}

/**
 * Locks the batch's row if it is still past retention, and answers whether it is. A redrive that
 * reopened the batch since it was listed makes this false; one that tries to reopen it now waits
 * for the deleting transaction and then finds no row.
 */
export async function lockExpired(trx: Transaction<Database>, batchId: string, before: Date): Promise<boolean> {
  const row = await trx.selectFrom('batches').select('id').where('id', '=', batchId).where(expired(before)).forUpdate().executeTakeFirst();
  return row !== undefined;
}

/** The refs of the batch's staged items that point at a blob (to lock their folders). */
export async function refsWithBlobs(q: Q, batchId: string): Promise<string[]> {
  const rows = await q.selectFrom('staged_items').select('ref').where('batch_id', '=', batchId).where('blob_key', 'is not', null).execute();
  return rows.map((r) => r.ref);
}

/**
 * Deletes the batch and everything recorded under it: items, results, staged records and chunks
 * (by the foreign keys' cascade) and its audit events. Answers the blob keys that no staged item
 * of the tenant records any more, for the caller to delete before it commits. The built-in
 * catalog's entries stay: they are what the batch published, not the batch's own records.
 */
export async function deleteBatchRows(trx: Transaction<Database>, batchId: string): Promise<string[]> {
  // One snapshot for the statement: "still used" must leave out the rows it deletes itself.
  const { rows } = await sql<{ blob_key: string }>`
    with gone as (
      delete from staged_items where batch_id = ${batchId}
      returning tenant_id, blob_key
    ),
    freed as (
      select distinct g.blob_key from gone g
      where g.blob_key is not null and not exists (
        select 1 from staged_items s
        where s.tenant_id = g.tenant_id and s.blob_key = g.blob_key and s.batch_id <> ${batchId}
      )
    ),
    audit as (
      delete from audit_events where batch_id = ${batchId}
    )
    select blob_key from freed`.execute(trx);
  await trx.deleteFrom('batches').where('id', '=', batchId).execute();
  return rows.map((r) => r.blob_key);
}
