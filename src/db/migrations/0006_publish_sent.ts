import { sql, type Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * `publish_sent`: a publish request may have gone out for the item. Set before the request, so an
 * item with it and without `published` is in doubt (the target may hold it, and nobody recorded its
 * id): compensation asks the target before calling it undone. Rows from before get it by the
 * rule that was used until now: a publish that failed without a definite "no".
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('item_results')
    .addColumn('publish_sent', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  await sql`
    update item_results set publish_sent = true
    where status = 'failed' and stage = 'publish' and not published and coalesce((error->>'retryable')::boolean, true)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('item_results').dropColumn('publish_sent').execute();
}
