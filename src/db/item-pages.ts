/**
 * Item results as clients page through them: a batch's items by cursor (GET …/items), and the
 * keyset pages live progress and the job stream read (the first unfinished item, results between
 * two seqs).
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { ItemStatus, Stage } from '../contracts/workflow';
import type { Classification, Database, ItemError } from './schema';
import { decodeCursor, encodeCursor, isSeq } from './cursor';
import { BadCursor } from '../errors';

type Q = Kysely<Database> | Transaction<Database>;

export interface ItemView {
  seq: number;
  ref: string;
  status: ItemStatus;
  stage: Stage | null;
  classification: Classification | null;
  published_id: string | null;
  error: ItemError | null;
}

const isSeqCursor = (v: unknown): v is { s: number } => typeof v === 'object' && v !== null && isSeq((v as { s: unknown }).s);

/**
 * Pages through a batch's items in submission order. An item with no result row yet, or one a
 * stage is still carrying, reads as `pending`.
 */
export async function listItems(
  q: Q,
  batchId: string,
  opts: { status?: ItemStatus; limit: number; cursor?: string },
): Promise<{ items: ItemView[]; nextCursor: string | null }> {
  let after = -1;
  if (opts.cursor) {
    const c = decodeCursor(opts.cursor, isSeqCursor);
    if (!c) throw new BadCursor('cursor is not valid');
    after = c.s;
  }
  const effective = sql<ItemStatus>`case when r.status is null or r.status = 'running' then 'pending' else r.status end`;
  const { rows } = await sql<ItemView>`
    select i.seq, i.ref, ${effective} as status, r.stage, r.classification, r.published_id, r.error
    from batch_items i
    left join item_results r on r.batch_id = i.batch_id and r.seq = i.seq
    where i.batch_id = ${batchId} and i.seq > ${after}
      ${opts.status ? sql`and ${effective} = ${opts.status}` : sql``}
    order by i.seq
    limit ${opts.limit + 1}`.execute(q);
  const page = rows.slice(0, opts.limit);
  const last = page[page.length - 1];
  return { items: page, nextCursor: rows.length > opts.limit && last ? encodeCursor({ s: last.seq }) : null };
}

/**
 * The lowest seq at or after `fromSeq` of an item not yet final (no result, pending or running), or
 * `undefined` when every item from there on is final. Live progress reports failed items only
 * below it, in seq order, so that no lower item can fail after a higher one was reported.
 */
export async function firstUnfinished(q: Q, batchId: string, fromSeq: number): Promise<number | undefined> {
  const { rows } = await sql<{ seq: number }>`
    select i.seq from batch_items i
    left join item_results r on r.batch_id = i.batch_id and r.seq = i.seq
    where i.batch_id = ${batchId} and i.seq >= ${fromSeq} and (r.seq is null or r.status in ('pending', 'running'))
    order by i.seq
    limit 1`.execute(q);
  return rows[0]?.seq;
}

/** Failed items with `fromSeq <= seq < toSeq`, in seq order: a keyset page for live progress. */
export const listFailedBetween = (q: Q, batchId: string, fromSeq: number, toSeq: number, limit: number): Promise<ItemView[]> =>
  listResultsBetween(q, batchId, fromSeq, toSeq, limit, ['failed']);

/** Items in one of `statuses` with `fromSeq <= seq < toSeq`, in seq order. */
export async function listResultsBetween(
  q: Q,
  batchId: string,
  fromSeq: number,
  toSeq: number,
  limit: number,
  statuses: ItemStatus[],
): Promise<ItemView[]> {
  const { rows } = await sql<ItemView>`
    select seq, ref, status, stage, classification, published_id, error
    from item_results
    where batch_id = ${batchId} and status = any(${statuses}::text[]) and seq >= ${fromSeq} and seq < ${toSeq}
    order by seq
    limit ${limit}`.execute(q);
  return rows;
}
