/**
 * The ingest stage: each item's content goes to the blob store under its content address, and its
 * record (with its text split into chunks, and an audit event) is staged in the database. Its undo
 * (undo.ts) removes the staged records, their chunks and the blobs nobody else records.
 *
 * Round trips per chunk, whatever its size:
 * - items with content: metadata read (only if some item has text), begin, lock, one write, commit;
 * - text only: metadata read and one write.
 * A repeated call changes nothing: puts are content-addressed, and the write upserts on
 * (batch, ref), replaces chunks in place, and audits only records it actually changed.
 */
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { WorkItem } from '../../../src/db/items';
import type { Database } from '../../../src/db/schema';
import { BlobKeyError, itemIdOf, rawBlobKey, type BlobStore } from '../../blobs';
import { chunkingFor, chunkText, type ChunkOptions, type TextChunk } from './chunks';
import { shareBlobFolders } from './locks';
import type { ItemResult, StageContext, StageHandler, StageModule } from '../runner';
import { unstager, type Unstager } from './undo';

export interface IngestOptions {
  blobs: BlobStore;
  /** Chunking when the batch's metadata names none (`chunk_chars`, `chunk_overlap`). */
  chunking: ChunkOptions;
}

/** Blob writes in flight at once per chunk call. */
const PUT_CONCURRENCY = 8;

interface Staged {
  seq: number;
  ref: string;
  itemId: string;
  text: string | null;
  blobKey: string | null;
  sha256: string | null;
  size: number | null;
  contentType: string | null;
  classification: string | null;
  attributes: string | null;
  chunks: TextChunk[];
}

/** The stage and its undo, over the same database and blob store. */
export function ingestStage(db: Kysely<Database>, opts: IngestOptions): StageModule<Unstager> {
  return { handler: ingestHandler(db, opts), undo: unstager(db, opts.blobs) };
}

export function ingestHandler(db: Kysely<Database>, { blobs, chunking }: IngestOptions): StageHandler {
  return async (items, ctx) => {
    const results: ItemResult[] = [];
    const ready: WorkItem[] = [];
    for (const item of items) {
      if (item.text === null && !item.content_b64) {
        results.push({
          seq: item.seq,
          ok: false,
          failure: { code: 'invalid_item', message: 'item has no text and no content', retryable: false },
        });
      } else {
        ready.push(item);
      }
    }
    if (ready.length === 0) return results;

    // The workflow passes no metadata; the batch row has it. Read once per call, and only if needed.
    const options = ready.some((i) => i.text) ? chunkingFor(await batchMetadata(db, ctx.batchId), chunking) : chunking;
    const withContent = ready.filter((i) => i.content_b64);
    const textOnly = ready.filter((i) => !i.content_b64);

    const stage = async (q: Kysely<Database> | Transaction<Database>): Promise<void> => {
      const staged: Staged[] = [];
      const failed = await putBlobs(withContent, ctx, blobs, (item, blob) => staged.push(record(item, blob, options)));
      // Cancelled: what was written is recorded; items not reached stay where they were.
      if (!ctx.signal.aborted) for (const item of textOnly) staged.push(record(item, null, options));
      await writeStaged(q, ctx, staged);
      results.push(...staged.map((s) => ({ seq: s.seq, ok: true as const })), ...failed);
      ctx.progress();
    };

    if (withContent.length === 0) {
      await stage(db);
    } else {
      await db.transaction().execute(async (trx) => {
        await shareBlobFolders(
          trx,
          ctx.tenantId,
          withContent.map((i) => itemIdOf(i.ref)),
        );
        await stage(trx);
      });
    }
    return results;
  };
}

async function batchMetadata(db: Kysely<Database>, batchId: string): Promise<Record<string, unknown> | null> {
  const row = await db.selectFrom('batches').select('metadata').where('id', '=', batchId).executeTakeFirst();
  return row?.metadata ?? null;
}

interface Blob {
  key: string;
  sha256: string;
  size: number;
}

/**
 * Decodes, hashes and writes each item's content, a few at a time; an item's bytes live only while
 * it is being written. A failed write is that item's transient failure (retried by the workflow
 * after a backoff); a missing blob store fails the whole call.
 */
async function putBlobs(
  items: WorkItem[],
  ctx: StageContext,
  blobs: BlobStore,
  done: (item: WorkItem, blob: Blob) => void,
): Promise<ItemResult[]> {
  const failures: ItemResult[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && !ctx.signal.aborted) {
      const item = items[next++]!;
      const bytes = Buffer.from(item.content_b64!, 'base64');
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const key = rawBlobKey(ctx.tenantId, itemIdOf(item.ref), sha256);
      try {
        await blobs.put(key, bytes, item.content_type ? { contentType: item.content_type } : undefined);
      } catch (err) {
        if (err instanceof ApplicationFailure && err.nonRetryable) throw err;
        // A key the store refuses (a tenant id it cannot hold) will never be accepted: no retry.
        const permanent = err instanceof BlobKeyError;
        failures.push({
          seq: item.seq,
          ok: false,
          failure: {
            code: permanent ? 'invalid_blob_key' : 'blob_write_failed',
            message: `${key}: ${(err as Error).message}`,
            retryable: !permanent,
          },
        });
        continue;
      }
      done(item, { key, sha256, size: bytes.length });
      ctx.progress();
    }
  };
  await Promise.all(Array.from({ length: Math.min(PUT_CONCURRENCY, items.length) }, worker));
  return failures;
}

function record(item: WorkItem, blob: Blob | null, chunking: ChunkOptions): Staged {
  return {
    seq: item.seq,
    ref: item.ref,
    itemId: itemIdOf(item.ref),
    text: item.text,
    blobKey: blob?.key ?? null,
    sha256: blob?.sha256 ?? null,
    size: blob?.size ?? null,
    contentType: item.content_type,
    classification: item.classification ? JSON.stringify(item.classification) : null,
    attributes: item.attributes ? JSON.stringify(item.attributes) : null,
    chunks: item.text ? chunkText(item.text, chunking) : [],
  };
}

/**
 * One statement: upsert the records, drop chunks past each item's new count, upsert its chunks,
 * and audit the records that were inserted or changed (a retry that changes nothing audits nothing).
 */
async function writeStaged(q: Kysely<Database> | Transaction<Database>, ctx: StageContext, staged: Staged[]): Promise<void> {
  if (staged.length === 0) return;
  const chunks = staged.flatMap((s) => s.chunks.map((c) => ({ ref: s.ref, ...c })));
  await sql`
    with input as (
      select * from unnest(
        ${staged.map((s) => s.ref)}::text[], ${staged.map((s) => s.seq)}::int[], ${staged.map((s) => s.itemId)}::text[],
        ${staged.map((s) => s.text)}::text[], ${staged.map((s) => s.blobKey)}::text[], ${staged.map((s) => s.sha256)}::text[],
        ${staged.map((s) => s.size)}::int[], ${staged.map((s) => s.contentType)}::text[],
        ${staged.map((s) => s.classification)}::text[], ${staged.map((s) => s.attributes)}::text[],
        ${staged.map((s) => s.chunks.length)}::int[]
      ) as t(ref, seq, item_id, text, blob_key, sha256, size, content_type, classification, attributes, chunks)
    ),
    staged as (
      insert into staged_items as s (tenant_id, batch_id, ref, seq, item_id, text, blob_key, content_sha256, content_size, content_type, classification, attributes)
      select ${ctx.tenantId}, ${ctx.batchId}, ref, seq, item_id, text, blob_key, sha256, size, content_type, classification::jsonb, attributes::jsonb
      from input
      on conflict (batch_id, ref) do update set
        item_id = excluded.item_id, text = excluded.text, blob_key = excluded.blob_key,
        content_sha256 = excluded.content_sha256, content_size = excluded.content_size, content_type = excluded.content_type,
        classification = excluded.classification, attributes = excluded.attributes
      where (s.item_id, s.text, s.blob_key, s.content_sha256, s.content_size, s.content_type, s.classification, s.attributes)
        is distinct from (excluded.item_id, excluded.text, excluded.blob_key, excluded.content_sha256, excluded.content_size, excluded.content_type, excluded.classification, excluded.attributes)
      returning s.ref
    ),
    stale_chunks as (
      delete from staged_chunks c using input i
      where c.batch_id = ${ctx.batchId} and c.ref = i.ref and c.idx >= i.chunks
    ),
    new_chunks as (
      insert into staged_chunks as c (batch_id, ref, idx, text, start_char)
      select ${ctx.batchId}, ref, idx, text, start_char
      from unnest(
        ${chunks.map((c) => c.ref)}::text[], ${chunks.map((c) => c.idx)}::int[],
        ${chunks.map((c) => c.text)}::text[], ${chunks.map((c) => c.start)}::int[]
      ) as t(ref, idx, text, start_char)
      on conflict (batch_id, ref, idx) do update set text = excluded.text, start_char = excluded.start_char
      where (c.text, c.start_char) is distinct from (excluded.text, excluded.start_char)
    )
    insert into audit_events (tenant_id, batch_id, ref, action, details)
    select ${ctx.tenantId}, ${ctx.batchId}, i.ref, 'ingested',
           jsonb_build_object('sha256', i.sha256, 'size', i.size, 'blob_key', i.blob_key, 'chunks', i.chunks)
    from input i join staged s on s.ref = i.ref`.execute(q);
}
