import { sql, type Kysely } from 'kysely';
import { ulid } from 'ulid';
import type { Database } from '../../../src/db/schema';
import type { StageHandler } from '../runner';

/**
 * The built-in catalog: the embedded default publish target. The idempotency key is unique, and the
 * no-op update makes a repeat return the id of the row that already exists, so a retried chunk
 * publishes nothing twice and still learns every id, in one statement.
 */
export const catalogPublisher =
  (db: Kysely<Database>): StageHandler =>
  async (items, ctx) => {
    if (ctx.signal.aborted) return [];
    const keys = items.map((i) => `${ctx.batchId}:${i.ref}`);
    const { rows } = await sql<{ id: string; idempotency_key: string }>`
      insert into catalog_items as c (id, tenant_id, batch_id, ref, idempotency_key, payload)
      select id, ${ctx.tenantId}, ${ctx.batchId}, ref, key, payload::jsonb
      from unnest(
        ${items.map(() => `cat_${ulid()}`)}::text[], ${items.map((i) => i.ref)}::text[], ${keys}::text[],
        ${items.map((i) => JSON.stringify({ ref: i.ref, text: i.text, classification: i.classification, attributes: i.attributes }))}::text[]
      ) as t(id, ref, key, payload)
      on conflict (idempotency_key) do update set idempotency_key = c.idempotency_key
      returning c.id, c.idempotency_key`.execute(db);
    const idByKey = new Map(rows.map((r) => [r.idempotency_key, r.id]));
    ctx.progress();
    return items.map((item, i) => ({ seq: item.seq, ok: true as const, publishedId: idByKey.get(keys[i]!)! }));
  };
