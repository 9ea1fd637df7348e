import { sql, type Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * The real stages: staged records point at their blob and hold their text chunks, every ingest
 * leaves an audit event, batches keep their classification cost, and outbound rate limits share a
 * log across every worker.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('staged_items')
    .addColumn('item_id', 'text')
    .addColumn('blob_key', 'text')
    .addColumn('content_type', 'text')
    .execute();
  // "Is this blob still used by another item?" is asked on every undo.
  await db.schema.createIndex('staged_items_blob').on('staged_items').columns(['tenant_id', 'blob_key']).execute();

  await db.schema
    .createTable('staged_chunks')
    .addColumn('batch_id', 'text', (c) => c.notNull().references('batches.id').onDelete('cascade'))
    .addColumn('ref', 'text', (c) => c.notNull())
    .addColumn('idx', 'integer', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('start_char', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('staged_chunks_pk', ['batch_id', 'ref', 'idx'])
    .execute();

  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('batch_id', 'text', (c) => c.notNull())
    .addColumn('ref', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('details', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('audit_events_batch').on('audit_events').columns(['batch_id', 'ref']).execute();

  await db.schema.alterTable('batches').addColumn('cost', 'jsonb').execute();

  // A sliding log per limited stage: one row per item let through, pruned as it ages out.
  await db.schema
    .createTable('rate_events')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('stage', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('rate_events_stage_at').on('rate_events').columns(['stage', 'at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('rate_events').ifExists().execute();
  await db.schema.alterTable('batches').dropColumn('cost').execute();
  await db.schema.dropTable('audit_events').ifExists().execute();
  await db.schema.dropTable('staged_chunks').ifExists().execute();
  await db.schema.dropIndex('staged_items_blob').ifExists().execute();
  await db.schema.alterTable('staged_items').dropColumn('item_id').dropColumn('blob_key').dropColumn('content_type').execute();
}
