import { sql, type Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * Every change to a batch row (an update or a delete, whoever makes it) notifies
 * `batchflow_batch_changed` with the batch id, at commit. An API process that keeps rows in memory
 * for progress reads (src/batches/row-cache.ts) drops its copy on it: a batch that has just ended
 * is never read as running from a copy. Rows change per status, snapshot and webhook attempt, not
 * per item, so the notifications are few.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function batchflow_batch_changed() returns trigger language plpgsql as $$
    begin
      perform pg_notify('batchflow_batch_changed', coalesce(new.id, old.id));
      return null;
    end $$`.execute(db);
  await sql`
    create trigger batches_changed after update or delete on batches
    for each row execute function batchflow_batch_changed()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger if exists batches_changed on batches`.execute(db);
  await sql`drop function if exists batchflow_batch_changed()`.execute(db);
}
