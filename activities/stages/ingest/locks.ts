/**
 * One blob can belong to staged items of several batches of a tenant (same ref, same bytes), so
 * "write the blob, then record the item" (ingest) and "forget the item, then delete the blob if
 * nobody else records it" (undo) must not interleave on the same blob, or an undo could delete a
 * blob that an ingest has just recorded. Transaction-scoped advisory locks per blob folder
 * (tenant + item id) order them: ingest holds its folders shared from before its writes until its
 * records commit; undo holds them exclusively while it decides and deletes. Every caller takes its
 * locks in one statement, in hash order, so two callers never wait on each other in a cycle.
 */
import { sql, type Transaction } from 'kysely';
import type { Database } from '../../../src/db/schema';

/** The two-key form, with this first key, keeps clear of anyone's single-key advisory locks. */
const BLOB_FOLDER_LOCKS = 0x626c6f62; // "blob"

/** Ingest: share the folders of these items until the transaction ends. */
export async function shareBlobFolders(trx: Transaction<Database>, tenantId: string, itemIds: string[]): Promise<void> {
  if (itemIds.length === 0) return;
  await sql`
    select pg_advisory_xact_lock_shared(${BLOB_FOLDER_LOCKS}::int, h)
    from (select distinct hashtext(${tenantId}::text || '/' || x) as h from unnest(${itemIds}::text[]) as x) as s
    order by h`.execute(trx);
}

/** Undo: hold the folders of these staged items' blobs alone until the transaction ends. */
export async function lockBlobFoldersOf(trx: Transaction<Database>, batchId: string, refs: string[]): Promise<void> {
  await sql`
    select pg_advisory_xact_lock(${BLOB_FOLDER_LOCKS}::int, h)
    from (
      select distinct hashtext(tenant_id || '/' || item_id) as h from staged_items
      where batch_id = ${batchId} and ref = any(${refs}::text[]) and blob_key is not null
    ) as s
    order by h`.execute(trx);
}
