import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * The completion webhook's latest delivery, on the batch row it reports on: one delivery per run
 * that finished, so a redrive's delivery replaces the previous one (its id tells them apart, and
 * a superseded delivery stops writing).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('batches')
    .addColumn('webhook_delivery_id', 'text')
    .addColumn('webhook_status', 'text')
    .addColumn('webhook_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('webhook_last_error', 'text')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('batches')
    .dropColumn('webhook_delivery_id')
    .dropColumn('webhook_status')
    .dropColumn('webhook_attempts')
    .dropColumn('webhook_last_error')
    .execute();
}
