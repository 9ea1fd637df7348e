/** Reads a batch's item results for export: page by page, so memory stays flat whatever the size. */
import { sql, type Kysely } from 'kysely';
import type { ItemStatus, Stage } from '../contracts/workflow';
import type { Classification, Database, ItemError, ItemResultRow } from './schema';

/** One item as an export carries it: what GET …/items shows, plus its place, attributes and last change. */
export interface ExportRow {
  /** 0-based position in the submission. */
  seq: number;
  ref: string;
  status: ItemStatus;
  stage: Stage | null;
  classification: Classification | null;
  published_id: string | null;
  error: ItemError | null;
  attributes: Record<string, unknown> | null;
  /** When the item's result last changed; null while no stage has written one. */
  updated_at: Date | null;
}

/**
 * Rows per query. Large enough that a 50,000-item export is 50 round trips, small enough that a
 * page (attributes included, item text left out) stays well under a few MB.
 */
export const EXPORT_PAGE_ROWS = 1_000;

type ResultPart = Pick<ItemResultRow, 'seq' | 'status' | 'stage' | 'classification' | 'published_id' | 'error' | 'updated_at'>;

/**
 * Every item of the batch in submission order, one page at a time. Items are numbered 0..total-1
 * when the batch is submitted (as the workflow's chunk ranges are), so a page is a seq range, read
 * as two range scans on the primary keys (inputs, then results) merged here. Each query is bounded
 * by the page whatever plan the database picks: as one join, PGlite (which keeps no statistics)
 * chose plans that read the whole batch, or the page squared, for every page.
 *
 * There is no transaction around the pages (on PGlite it would hold the one connection for the whole
 * download): each page is what the database holds when it is read, and no item is skipped or
 * repeated while the batch runs. An item with no result yet, or one a stage is carrying, is `pending`.
 */
export async function* exportPages(
  db: Kysely<Database>,
  batchId: string,
  totalItems: number,
  pageRows = EXPORT_PAGE_ROWS,
): AsyncGenerator<ExportRow[]> {
  for (let from = 0; from < totalItems; from += pageRows) {
    const to = from + pageRows;
    const { rows: inputs } = await sql<Pick<ExportRow, 'seq' | 'ref' | 'attributes'>>`
      select seq, ref, attributes from batch_items
      where batch_id = ${batchId} and seq >= ${from} and seq < ${to}
      order by seq`.execute(db);
    const { rows: results } = await sql<ResultPart>`
      select seq, status, stage, classification, published_id, error, updated_at from item_results
      where batch_id = ${batchId} and seq >= ${from} and seq < ${to}`.execute(db);
    if (inputs.length === 0) continue;
    const bySeq = new Map(results.map((r) => [r.seq, r]));
    yield inputs.map((i) => {
      const r = bySeq.get(i.seq);
      return {
        seq: i.seq,
        ref: i.ref,
        status: !r || r.status === 'running' ? 'pending' : r.status,
        stage: r?.stage ?? null,
        classification: r?.classification ?? null,
        published_id: r?.published_id ?? null,
        error: r?.error ?? null,
        attributes: i.attributes,
        updated_at: r ? new Date(r.updated_at) : null,
      };
    });
  }
}
