import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * Per-key request counters, shared by every API process (rate-limiter-flexible's
 * RateLimiterPostgres layout: one row per `<bucket>:<key id>`, `expire` in epoch milliseconds).
 * Created here rather than by the library at run time, so the API never needs DDL rights and the
 * table exists before the first request.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('rate_limits')
    .addColumn('key', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('points', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expire', 'bigint')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('rate_limits').ifExists().execute();
}
