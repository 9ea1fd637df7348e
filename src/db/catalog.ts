/** The built-in catalog, browsed per tenant: what the publish stage put there and still stands. */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema';
import { decodeCursor, encodeCursor, isKey } from './cursor';
import { BadCursor } from '../errors';

export interface CatalogEntry {
  id: string;
  batch_id: string;
  ref: string;
  payload: Record<string, unknown>;
  created_at: Date;
}

const isIdCursor = (v: unknown): v is { id: string } => typeof v === 'object' && v !== null && isKey((v as { id: unknown }).id);

/** Ids are ULIDs, so ordering by id is ordering by creation; the cursor is the last id. */
export async function listCatalog(
  db: Kysely<Database>,
  tenantId: string,
  opts: { batchId?: string; limit: number; cursor?: string },
): Promise<{ items: CatalogEntry[]; nextCursor: string | null }> {
  let after: string | undefined;
  if (opts.cursor) {
    const c = decodeCursor(opts.cursor, isIdCursor);
    if (!c) throw new BadCursor('cursor is not valid');
    after = c.id;
  }
  const { rows } = await sql<CatalogEntry>`
    select id, batch_id, ref, payload, created_at from catalog_items
    where tenant_id = ${tenantId}
      ${opts.batchId ? sql`and batch_id = ${opts.batchId}` : sql``}
      ${after ? sql`and id > ${after}` : sql``}
    order by id
    limit ${opts.limit + 1}`.execute(db);
  const page = rows.slice(0, opts.limit);
  const last = page[page.length - 1];
  return { items: page, nextCursor: rows.length > opts.limit && last ? encodeCursor({ id: last.id }) : null };
}
