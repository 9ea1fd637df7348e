import { sql, type Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * The rate counters skip the write-ahead log. Every authenticated request writes its key's
 * counter, and a logged write waits for the WAL flush: under a worker's write load that wait was
 * most of a progress read's time. A counter is worth nothing after a crash (the window it counts
 * is a minute long), and an unlogged table is emptied by crash recovery, which only forgives the
 * current window. Unlogged tables are not replicated either: on a standby the limits start over,
 * which is what a fail-over should do to a one-minute window anyway.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table rate_limits set unlogged`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table rate_limits set logged`.execute(db);
}
