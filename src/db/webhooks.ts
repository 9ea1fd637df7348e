/**
 * The completion webhook's delivery record, on the batch row. Every write names its delivery: a
 * delivery that a newer one replaced (a redrive finished again) can no longer change the record.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { WebhookOutcome, WebhookStatus } from '../contracts/webhook';
import type { Database } from './schema';

type Q = Kysely<Database> | Transaction<Database>;

/** A new delivery takes over the record: pending, no attempts yet. A repeat for the same delivery changes nothing. */
export async function startDelivery(q: Q, batchId: string, deliveryId: string): Promise<void> {
  await q
    .updateTable('batches')
    .set({ webhook_delivery_id: deliveryId, webhook_status: 'pending', webhook_attempts: 0, webhook_last_error: null })
    .where('id', '=', batchId)
    .where((eb) => eb.or([eb('webhook_delivery_id', 'is', null), eb('webhook_delivery_id', '!=', deliveryId)]))
    .execute();
}

/** Whether this delivery is still the batch's latest and still open. */
export async function isOpenDelivery(q: Q, batchId: string, deliveryId: string): Promise<boolean> {
  const row = await q
    .selectFrom('batches')
    .select('webhook_status')
    .where('id', '=', batchId)
    .where('webhook_delivery_id', '=', deliveryId)
    .executeTakeFirst();
  return row?.webhook_status === 'pending';
}

/**
 * Records one attempt. `lastError` null keeps the previous error (a delivery on the third attempt
 * still shows why the first two failed). Only an open delivery is written.
 */
export async function recordAttempt(
  q: Q,
  batchId: string,
  deliveryId: string,
  a: { status: WebhookStatus; attempts: number; lastError: string | null },
): Promise<void> {
  await q
    .updateTable('batches')
    .set({
      webhook_status: a.status,
      webhook_attempts: sql<number>`greatest(webhook_attempts, ${a.attempts})`,
      ...(a.lastError !== null ? { webhook_last_error: a.lastError } : {}),
    })
    .where('id', '=', batchId)
    .where('webhook_delivery_id', '=', deliveryId)
    .where('webhook_status', '=', 'pending')
    .execute();
}

/**
 * The retry window ended (or a permanent failure): the delivery is failed. The error of the last
 * attempt stays when there was one; `error` says why otherwise.
 */
export async function failDelivery(q: Q, batchId: string, deliveryId: string, error: string): Promise<WebhookOutcome> {
  await q
    .updateTable('batches')
    .set({ webhook_status: 'failed', webhook_last_error: sql<string>`coalesce(webhook_last_error, ${error})` })
    .where('id', '=', batchId)
    .where('webhook_delivery_id', '=', deliveryId)
    .where('webhook_status', '=', 'pending')
    .execute();
  const row = await q
    .selectFrom('batches')
    .select(['webhook_delivery_id', 'webhook_status', 'webhook_attempts', 'webhook_last_error'])
    .where('id', '=', batchId)
    .executeTakeFirst();
  if (!row || row.webhook_delivery_id !== deliveryId) return { status: 'skipped', attempts: 0, lastError: null };
  return { status: row.webhook_status ?? 'failed', attempts: row.webhook_attempts, lastError: row.webhook_last_error };
}
