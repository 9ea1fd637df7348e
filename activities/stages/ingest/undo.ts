/**
 * Undoing ingest: a staged item leaves with its chunks, and its blob leaves too unless another
 * staged item of the tenant (in any batch) still records the same blob.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../src/db/schema';
import type { BlobStore } from '../../blobs';
import { lockBlobFoldersOf } from './locks';

/** Removes the staged records of `refs` in one batch, with their chunks and unshared blobs. */
export type Unstager = (batch: { tenantId: string; batchId: string }, refs: string[]) => Promise<void>;

/** Blob deletes in flight at once: enough to hide S3 latency, few enough to be polite. */
const DELETE_CONCURRENCY = 8;

/**
 * Four round trips per call whatever the number of items: begin, lock, one statement that
 * deletes the records and chunks, writes the audit events and names the blobs nobody uses any
 * more, then commit after those blobs are deleted. Deleting before the commit means a failure
 * leaves the records (and the call is retried) rather than records whose blob is gone.
 */
export function unstager(db: Kysely<Database>, blobs: BlobStore): Unstager {
  return async ({ batchId }, refs) => {
    if (refs.length === 0) return;
    await db.transaction().execute(async (trx) => {
      await lockBlobFoldersOf(trx, batchId, refs);
      // One snapshot for the whole statement: "used elsewhere" must leave out the rows this same
      // statement deletes, which it still sees.
      const { rows } = await sql<{ blob_key: string }>`
        with gone as (
          delete from staged_items
          where batch_id = ${batchId} and ref = any(${refs}::text[])
          returning tenant_id, ref, blob_key
        ),
        gone_chunks as (
          delete from staged_chunks
          where batch_id = ${batchId} and ref = any(${refs}::text[])
          returning ref
        ),
        freed as (
          select distinct g.blob_key from gone g
          where g.blob_key is not null and not exists (
            select 1 from staged_items s
            where s.tenant_id = g.tenant_id and s.blob_key = g.blob_key
              and not (s.batch_id = ${batchId} and s.ref = any(${refs}::text[]))
          )
        ),
        audit as (
          insert into audit_events (tenant_id, batch_id, ref, action, details)
          select g.tenant_id, ${batchId}, g.ref, 'unstaged', jsonb_build_object(
            'blob_key', g.blob_key,
            'blob_deleted', exists (select 1 from freed f where f.blob_key = g.blob_key),
            'chunks', (select count(*) from gone_chunks c where c.ref = g.ref))
          from gone g
        )
        select blob_key from freed`.execute(trx);
      const keys = rows.map((r) => r.blob_key);
      for (let i = 0; i < keys.length; i += DELETE_CONCURRENCY) {
        await Promise.all(keys.slice(i, i + DELETE_CONCURRENCY).map((key) => blobs.delete(key)));
      }
    });
  };
}
