import { sql, type Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * What an item has changed outside its own result row, so the saga knows what to undo:
 * `staged` (a staging row exists) and `published` (the remote item at `published_id` exists).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('item_results')
    .addColumn('staged', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('published', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  // Rows written before this migration: derive the flags from how far the item got.
  await sql`update item_results set staged = true where stage in ('ingest', 'publish') and status <> 'failed'`.execute(db);
  await sql`update item_results set published = true where published_id is not null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('item_results').dropColumn('staged').dropColumn('published').execute();
}
