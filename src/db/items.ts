/** Queries on item results: what each stage reads and writes, redrives, review decisions (client pages: item-pages.ts). */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { ItemRange, ItemStatus, Stage } from '../contracts/workflow';
import type { Classification, Database, ItemError } from './schema';
import { publicError } from './public-error';
import { decodeCursor, encodeCursor, isKey, isSeq } from './cursor';
import { BadCursor } from '../errors';

type Q = Kysely<Database> | Transaction<Database>;

/** An item's input joined with its result so far: what a stage needs to decide and act. */
export interface WorkItem {
  seq: number;
  ref: string;
  text: string | null;
  content_b64: string | null;
  content_type: string | null;
  attributes: Record<string, unknown> | null;
  status: ItemStatus | 'running' | null;
  stage: Stage | null;
  classification: Classification | null;
  published_id: string | null;
  staged: boolean;
  published: boolean;
  /** A publish request may have gone out for it (see markPublishSent). */
  publish_sent: boolean;
  error: ItemError | null;
  attempts: number;
}

/** One chunk's items, in order, with their results: one round trip per stage per chunk. */
export async function loadRange(q: Q, batchId: string, range: ItemRange): Promise<WorkItem[]> {
  const { rows } = await sql<WorkItem>`
    select i.seq, i.ref, i.text, i.content_b64, i.content_type, i.attributes,
           r.status, r.stage, r.classification, r.published_id,
           coalesce(r.staged, false) as staged, coalesce(r.published, false) as published,
           coalesce(r.publish_sent, false) as publish_sent, r.error, coalesce(r.attempts, 0) as attempts
    from batch_items i
    left join item_results r on r.batch_id = i.batch_id and r.seq = i.seq
    where i.batch_id = ${batchId} and i.seq >= ${range.from} and i.seq < ${range.to}
    order by i.seq`.execute(q);
  return rows;
}

export interface ResultWrite {
  seq: number;
  ref: string;
  status: ItemStatus | 'running';
  stage: Stage;
  classification?: Classification | null;
  publishedId?: string | null;
  error?: ItemError | null;
  attempts: number;
  /** The item's live effects after this write (the caller knows them from the WorkItem). */
  staged: boolean;
  published: boolean;
}

/**
 * Records a chunk's results in one statement. Fields a stage does not produce (a publish does not
 * reclassify) keep their earlier values.
 */
export async function writeResults(q: Q, batchId: string, results: ResultWrite[]): Promise<void> {
  if (results.length === 0) return;
  await sql`
    insert into item_results as r (batch_id, seq, ref, status, stage, classification, published_id, error, attempts, staged, published, updated_at)
    select ${batchId}, seq, ref, status, stage, classification::jsonb, published_id, error::jsonb, attempts, staged, published, now()
    from unnest(
      ${results.map((r) => r.seq)}::int[],
      ${results.map((r) => r.ref)}::text[],
      ${results.map((r) => r.status)}::text[],
      ${results.map((r) => r.stage)}::text[],
      ${results.map((r) => (r.classification ? JSON.stringify(r.classification) : null))}::text[],
      ${results.map((r) => r.publishedId ?? null)}::text[],
      ${results.map((r) => (r.error ? JSON.stringify(publicError(r.error)) : null))}::text[],
      ${results.map((r) => r.attempts)}::int[],
      ${results.map((r) => r.staged)}::boolean[],
      ${results.map((r) => r.published)}::boolean[]
    ) as t(seq, ref, status, stage, classification, published_id, error, attempts, staged, published)
    on conflict (batch_id, seq) do update set
      status = excluded.status,
      stage = excluded.stage,
      classification = coalesce(excluded.classification, r.classification),
      published_id = coalesce(excluded.published_id, r.published_id),
      error = excluded.error,
      attempts = excluded.attempts,
      staged = excluded.staged,
      published = excluded.published,
      updated_at = now()`.execute(q);
}

/**
 * Records, before the requests go out, that a publish may be sent for these items: a worker that
 * dies after the target created one and before writeResults leaves the item in doubt, and this is
 * how compensation knows to ask the target. Items without a result row (publish as the first
 * stage) get one, still pending.
 */
export async function markPublishSent(q: Q, batchId: string, items: Array<{ seq: number; ref: string }>): Promise<void> {
  if (items.length === 0) return;
  await sql`
    insert into item_results as r (batch_id, seq, ref, status, stage, attempts, publish_sent, updated_at)
    select ${batchId}, seq, ref, 'pending', null, 0, true, now()
    from unnest(${items.map((i) => i.seq)}::int[], ${items.map((i) => i.ref)}::text[]) as t(seq, ref)
    on conflict (batch_id, seq) do update set publish_sent = true`.execute(q);
}

/** The target was asked about these in-doubt items and answered: they are in doubt no more. */
export async function clearPublishSent(q: Q, batchId: string, seqs: number[]): Promise<void> {
  if (seqs.length === 0) return;
  await sql`update item_results set publish_sent = false where batch_id = ${batchId} and seq = any(${seqs}::int[])`.execute(q);
}

/**
 * Ends every unfinished item of a range (or of the whole batch) in `status`, with `error` and
 * the failing `stage` when given (a cancelled item keeps the last stage it completed), and says
 * how many it ended. Used when a chunk fails as a whole and when a batch is
 * cancelled: afterwards no item of it is left pending.
 */
export async function endUnfinished(
  q: Q,
  batchId: string,
  status: 'failed' | 'cancelled',
  opts: { range?: ItemRange; error?: ItemError; stage?: Stage } = {},
): Promise<number> {
  const from = opts.range?.from ?? 0;
  const to = opts.range?.to ?? 2 ** 31 - 1;
  const error = opts.error ? JSON.stringify(publicError(opts.error)) : null;
  const { rows } = await sql<{ n: number }>`
    with ended as (
      insert into item_results as r (batch_id, seq, ref, status, stage, error, attempts, updated_at)
      select i.batch_id, i.seq, i.ref, ${status}, coalesce(${opts.stage ?? null}::text, x.stage), ${error}::jsonb, coalesce(x.attempts, 0), now()
      from batch_items i
      left join item_results x on x.batch_id = i.batch_id and x.seq = i.seq
      where i.batch_id = ${batchId} and i.seq >= ${from} and i.seq < ${to}
        and (x.seq is null or x.status in ('pending', 'running'))
      on conflict (batch_id, seq) do update set status = excluded.status, stage = excluded.stage, error = excluded.error, updated_at = now()
      returning 1
    )
    select count(*)::int as n from ended`.execute(q);
  return rows[0]?.n ?? 0;
}

/**
 * Puts a batch's failed items back to pending so they run again from the first stage (redrive),
 * and says which chunks need running: those of the reset items, and those holding items already
 * put back in line (a resolved review). Refs, and so publish idempotency keys, are unchanged.
 * With `keepFailed`, failed items stay as they are. `closed`: no run of the batch is open (a
 * redrive of a finished batch), so nothing is still undoing a staged item's effects: one still
 * staged was left so by a run that ended outside batchflow (terminated), and runs again too.
 * Staging is idempotent on (batch, ref), and the `staged` flag stays for any later undo.
 */
export async function resetFailed(
  q: Q,
  batchId: string,
  chunkSize: number,
  keepFailed = false,
  closed = false,
): Promise<{ items: number; chunks: number[] }> {
  const { rows } = await sql<{ n: number; chunks: number[] | null }>`
    with reset as (
      update item_results set status = 'pending', stage = null, error = null, attempts = 0, updated_at = now()
      -- An item whose earlier effects are still being undone is left until that is done.
      where batch_id = ${batchId} and status = 'failed' and (not staged or ${closed}::boolean) and not published and not ${keepFailed}::boolean
      returning seq
    ),
    waiting as (
      select seq from item_results where batch_id = ${batchId} and status = 'running'
    )
    select (select count(*)::int from reset) as n,
           (select array_agg(distinct s / ${chunkSize}::int) from (select seq as s from reset union all select seq from waiting) x) as chunks`.execute(
    q,
  );
  const row = rows[0];
  return { items: row?.n ?? 0, chunks: (row?.chunks ?? []).map(Number).sort((a, b) => a - b) };
}

/** Failed items that a redrive would run again (see resetFailed). */
export async function countFailed(q: Q, batchId: string): Promise<number> {
  // The batch is finished: a staged failed item is one a terminated run left (see resetFailed's `closed`).
  const { rows } = await sql<{
    n: number;
  }>`select count(*)::int as n from item_results where batch_id = ${batchId} and status = 'failed' and not published`.execute(q);
  return rows[0]?.n ?? 0;
}

/**
 * Records a person's label for an item waiting for review and puts it back in line for its
 * remaining stages (or finishes it, when classify was the batch's last stage). Answers the item's
 * seq, or undefined when no such item waits for review.
 */
export async function resolveReview(
  q: Q,
  batchId: string,
  ref: string,
  label: string,
  lastStageIsClassify: boolean,
): Promise<number | undefined> {
  const { rows } = await sql<{ seq: number }>`
    update item_results set
      status = ${lastStageIsClassify ? 'succeeded' : 'running'},
      classification = jsonb_build_object('label', ${label}::text, 'confidence', 1, 'tier', 'human_review',
                                          'cost', coalesce((classification->>'cost')::numeric, 0),
                                          'suggested', classification->>'label'),
      updated_at = now()
    where batch_id = ${batchId} and ref = ${ref} and status = 'needs_review'
    returning seq`.execute(q);
  return rows[0]?.seq;
}

/**
 * The chunks holding review decisions that no run has picked up yet: items a person labelled
 * (resolveReview) that still wait for their next stage. The decision is recorded first and the
 * workflow is only nudged, so a nudge that is refused (the run was continuing as new, Temporal was
 * down) loses nothing: each run looks for these at its start and before its end.
 */
export async function decidedReviewChunks(q: Q, batchId: string, chunkSize: number): Promise<number[]> {
  const { rows } = await sql<{ chunk: number }>`
    select distinct seq / ${chunkSize}::int as chunk from item_results
    where batch_id = ${batchId} and status = 'running' and stage = 'classify' and classification->>'tier' = 'human_review'
    order by 1`.execute(q);
  return rows.map((r) => Number(r.chunk));
}

export interface ReviewItem {
  batch_id: string;
  ref: string;
  seq: number;
  text: string | null;
  classification: Classification | null;
  updated_at: Date;
}

/** Items of a tenant waiting for a person, oldest batch first, in item order. */
export async function listReview(
  q: Q,
  tenantId: string,
  opts: { batchId?: string; limit: number; cursor?: string },
): Promise<{ items: ReviewItem[]; nextCursor: string | null }> {
  let after: { b: string; s: number } | undefined;
  if (opts.cursor) {
    after = decodeCursor(
      opts.cursor,
      (v): v is { b: string; s: number } =>
        typeof v === 'object' && v !== null && isKey((v as { b: unknown }).b) && isSeq((v as { s: unknown }).s),
    );
    if (!after) throw new BadCursor('cursor is not valid');
  }
  const { rows } = await sql<ReviewItem>`
    select r.batch_id, r.ref, r.seq, i.text, r.classification, r.updated_at
    from item_results r
    join batches b on b.id = r.batch_id
    join batch_items i on i.batch_id = r.batch_id and i.seq = r.seq
    where b.tenant_id = ${tenantId} and r.status = 'needs_review'
      ${opts.batchId ? sql`and r.batch_id = ${opts.batchId}` : sql``}
      ${after ? sql`and (r.batch_id, r.seq) > (${after.b}, ${after.s})` : sql``}
    order by r.batch_id, r.seq
    limit ${opts.limit + 1}`.execute(q);
  const page = rows.slice(0, opts.limit);
  const last = page[page.length - 1];
  return { items: page, nextCursor: rows.length > opts.limit && last ? encodeCursor({ b: last.batch_id, s: last.seq }) : null };
}
