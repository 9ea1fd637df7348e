import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../src/db/schema';
import type { ItemResult, StageHandler } from './stage-runner';

interface Staged {
  seq: number;
  ref: string;
  text: string | null;
  sha256: string | null;
  size: number | null;
  classification: string | null;
  attributes: string | null;
}

/**
 * Stages each item in PostgreSQL, upserting on (batch, ref) so a repeated call changes nothing.
 * One statement per chunk.
 */
export const ingestHandler =
  (db: Kysely<Database>): StageHandler =>
  async (items, ctx) => {
    const results: ItemResult[] = [];
    const staged: Staged[] = [];
    for (const item of items) {
      if (ctx.signal.aborted) break;
      const bytes = item.content_b64 === null ? null : Buffer.from(item.content_b64, 'base64');
      if (item.text === null && (bytes === null || bytes.length === 0)) {
        results.push({ seq: item.seq, ok: false, failure: { code: 'invalid_item', message: 'item has no text and no content', retryable: false } });
        continue;
      }
      staged.push({
        seq: item.seq,
        ref: item.ref,
        text: item.text,
        sha256: bytes ? createHash('sha256').update(bytes).digest('hex') : null,
        size: bytes ? bytes.length : null,
        classification: item.classification ? JSON.stringify(item.classification) : null,
        attributes: item.attributes ? JSON.stringify(item.attributes) : null,
      });
      results.push({ seq: item.seq, ok: true });
      ctx.progress();
    }
    if (staged.length > 0) {
      await sql`
        insert into staged_items (tenant_id, batch_id, ref, seq, text, content_sha256, content_size, classification, attributes)
        select ${ctx.tenantId}, ${ctx.batchId}, ref, seq, text, sha, size, classification::jsonb, attributes::jsonb
        from unnest(
          ${staged.map((s) => s.ref)}::text[], ${staged.map((s) => s.seq)}::int[], ${staged.map((s) => s.text)}::text[],
          ${staged.map((s) => s.sha256)}::text[], ${staged.map((s) => s.size)}::int[],
          ${staged.map((s) => s.classification)}::text[], ${staged.map((s) => s.attributes)}::text[]
        ) as t(ref, seq, text, sha, size, classification, attributes)
        on conflict (batch_id, ref) do update set
          text = excluded.text, content_sha256 = excluded.content_sha256, content_size = excluded.content_size,
          classification = excluded.classification, attributes = excluded.attributes`.execute(db);
    }
    return results;
  };
