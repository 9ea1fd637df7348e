/**
 * Retention's one activity: deletes a page of finished batches past their age, each with its
 * rows and the blobs that nothing else of its tenant records.
 */
import { Context } from '@temporalio/activity';
import type { Kysely } from 'kysely';
import type { Database } from '../src/db/schema';
import { deleteBatchRows, listExpired, lockExpired, refsWithBlobs } from '../src/db/retention';
import type { BlobStore } from './blobs';
import { lockBlobFoldersOf } from './stages/ingest/locks';

export interface DeleteExpiredInput {
  /** ISO time: batches that finished before it go. */
  cutoff: string;
  /** Only this tenant's batches (POST /v1/batches/cleanup); every tenant's when absent. */
  tenantId?: string;
  /** Batches per call: small enough that one call ends well inside its timeout. */
  limit: number;
}

export interface DeleteExpiredOutcome {
  deleted: number;
  /** The page was full: call again for the next one. */
  more: boolean;
}

/** Blob deletes in flight at once: enough to hide S3 latency, few enough to be polite. */
const DELETE_CONCURRENCY = 8;

export const retentionActivities = (db: Kysely<Database>, blobs: BlobStore) => ({
  async deleteExpiredBatches(input: DeleteExpiredInput): Promise<DeleteExpiredOutcome> {
    const before = new Date(input.cutoff);
    const ids = await listExpired(db, { before, tenantId: input.tenantId, limit: input.limit });
    let deleted = 0;
    for (const id of ids) {
      if (await deleteOne(db, blobs, id, before)) deleted++;
      Context.current().heartbeat({ deleted });
    }
    return { deleted, more: ids.length === input.limit };
  },
});

/**
 * One transaction per batch. It re-checks the batch under a row lock (a redrive may have reopened
 * it since it was listed), holds its blobs' folders as undo does (an ingest of another batch may be
 * recording the same blob), deletes the rows, and deletes the freed blobs before it commits: a
 * failure leaves the rows for the retry, never rows whose blob is gone. Deleting a blob that is
 * already gone succeeds, so the retry repeats safely.
 */
async function deleteOne(db: Kysely<Database>, blobs: BlobStore, batchId: string, before: Date): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    if (!(await lockExpired(trx, batchId, before))) return false;
    await lockBlobFoldersOf(trx, batchId, await refsWithBlobs(trx, batchId));
    const keys = await deleteBatchRows(trx, batchId);
    for (let i = 0; i < keys.length; i += DELETE_CONCURRENCY) {
      await Promise.all(keys.slice(i, i + DELETE_CONCURRENCY).map((key) => blobs.delete(key)));
      Context.current().heartbeat();
    }
    return true;
  });
}
