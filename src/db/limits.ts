/** The database side of the per-key batch limits. */
import { sql, type Transaction } from 'kysely';
import type { Database } from './schema';

/** The statuses that hold one of the tenant's active-batch slots (docs/api.md "Limits"). */
export const ACTIVE_STATUSES = ['queued', 'running', 'paused', 'cancelling'] as const;

/** "bfsb": batchflow submissions, as the first half of the advisory lock key. */
const SUBMIT_LOCK_SPACE = 0x62667362;

/**
 * Serialises the tenant's submissions until this transaction ends, on every connection and every
 * API process: the active-batch count read after it cannot be raced by another insert, which a
 * check-then-insert without the lock would allow (ten parallel submits would all see room).
 */
export async function lockTenantSubmissions(tx: Transaction<Database>, tenantId: string): Promise<void> {
  // Two int4 keys: a namespace of our own, then the tenant, so unrelated advisory locks never collide.
  await sql`select pg_advisory_xact_lock(${SUBMIT_LOCK_SPACE}, hashtext(${tenantId}))`.execute(tx);
}

export async function countActiveBatches(tx: Transaction<Database>, tenantId: string): Promise<number> {
  const row = await tx
    .selectFrom('batches')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('tenant_id', '=', tenantId)
    .where('status', 'in', [...ACTIVE_STATUSES])
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
