/**
 * Each tenant's webhook signing secrets (issue 13). A tenant signs with its newest secret; during a
 * rotation the previous one signs too, until its `expires_at`, so receivers can switch at their
 * own pace. At most two sign at once. Stored clear (the worker must sign with them; see migration
 * 0007); only `createFirst`/`rotate` hand one out, once, and nothing here lists or logs one.
 */
import { randomBytes } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema';

type Q = Kysely<Database> | Transaction<Database>;

/** Two: the secret being retired and its successor. A third would leave receivers guessing. */
export const MAX_ACTIVE_SECRETS = 2;

/** Prefixed like Stripe's and Standard Webhooks', so a leaked one is recognisable in a scan. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64url')}`;
const newSecretId = (): string => `whs_${randomBytes(8).toString('hex')}`;

/** Thrown when a rotation would make a third active secret: the previous rotation is still open. */
export class RotationInProgressError extends Error {}
/** Thrown when the tenant does not exist (a typo would otherwise mint a secret nobody uses). */
export class UnknownTenantError extends Error {}

/** What operators may see of a secret: never the secret. */
export interface WebhookSecretInfo {
  id: string;
  tenantId: string;
  /** The row stands for WEBHOOK_SECRET (a first rotation away from it). */
  shared: boolean;
  createdAt: Date;
  expiresAt: Date | null;
  active: boolean;
}

const isActive = sql<boolean>`(expires_at is null or expires_at > now())`;

/** Locks the tenant row: rotations of one tenant run one at a time, so two cannot both see one active secret. */
async function lockTenant(tx: Transaction<Database>, tenantId: string): Promise<void> {
  const row = await tx.selectFrom('tenants').select('id').where('id', '=', tenantId).forUpdate().executeTakeFirst();
  if (!row) throw new UnknownTenantError(`no tenant ${tenantId} (tenants are made by \`keys create\`)`);
}

async function insertSecret(tx: Transaction<Database>, tenantId: string): Promise<{ id: string; secret: string }> {
  const id = newSecretId();
  const secret = newWebhookSecret();
  await tx.insertInto('webhook_secrets').values({ id, tenant_id: tenantId, secret }).execute();
  return { id, secret };
}

/**
 * The tenant's first secret, if it never had one (a new tenant, or one from before per-tenant
 * secrets); undefined when it has or had one: a secret is only ever shown when it is made.
 */
export async function createFirstWebhookSecret(
  db: Kysely<Database>,
  tenantId: string,
): Promise<{ id: string; secret: string } | undefined> {
  return db.transaction().execute(async (tx) => {
    await lockTenant(tx, tenantId);
    const any = await tx.selectFrom('webhook_secrets').select('id').where('tenant_id', '=', tenantId).executeTakeFirst();
    return any ? undefined : insertSecret(tx, tenantId);
  });
}

/**
 * A new secret for the tenant. The one signing until now keeps signing for `overlapSeconds` more
 * (0: it stops now, for a leaked secret). Refused while two are active: retire first. For a tenant
 * that never had one, the secret signing until now is WEBHOOK_SECRET: a row with a null secret
 * stands for it, so it overlaps and is retired like any other.
 */
export async function rotateWebhookSecret(
  db: Kysely<Database>,
  tenantId: string,
  overlapSeconds: number,
): Promise<{ id: string; secret: string; previous: Array<{ id: string; expiresAt: Date }> }> {
  return db.transaction().execute(async (tx) => {
    await lockTenant(tx, tenantId);
    const had = await tx.selectFrom('webhook_secrets').select('id').where('tenant_id', '=', tenantId).executeTakeFirst();
    if (!had) {
      // Dated from the tenant's creation: it signed since then, and it sorts before the new secret.
      const since = tx.selectFrom('tenants').select('created_at').where('id', '=', tenantId);
      await tx.insertInto('webhook_secrets').values({ id: newSecretId(), tenant_id: tenantId, secret: null, created_at: since }).execute();
    }
    const active = await tx
      .selectFrom('webhook_secrets')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where(isActive)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    if (active.length >= MAX_ACTIVE_SECRETS) {
      throw new RotationInProgressError(
        `tenant ${tenantId} already has ${active.length} active secrets (${active.map((r) => r.id).join(', ')}); retire the older one first (\`npm run keys -- webhook-secret --tenant ${tenantId} --retire\`)`,
      );
    }
    const previous = await tx
      .updateTable('webhook_secrets')
      // Never later than an expiry it already has.
      .set({ expires_at: sql<Date>`least(coalesce(expires_at, 'infinity'), now() + ${overlapSeconds} * interval '1 second')` })
      .where('tenant_id', '=', tenantId)
      .where(isActive)
      .returning(['id', 'expires_at'])
      .execute();
    const made = await insertSecret(tx, tenantId);
    return { ...made, previous: previous.map((r) => ({ id: r.id, expiresAt: r.expires_at! })) };
  });
}

/** Ends the overlap now: every active secret but the newest stops signing. Answers the ids retired. */
export async function retireOlderWebhookSecrets(db: Kysely<Database>, tenantId: string): Promise<string[]> {
  return db.transaction().execute(async (tx) => {
    await lockTenant(tx, tenantId);
    const active = await tx
      .selectFrom('webhook_secrets')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where(isActive)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    const older = active.slice(1).map((r) => r.id);
    if (older.length > 0)
      await tx
        .updateTable('webhook_secrets')
        .set({ expires_at: sql<Date>`now()` })
        .where('id', 'in', older)
        .execute();
    return older;
  });
}

export async function listWebhookSecrets(db: Kysely<Database>, tenantId?: string): Promise<WebhookSecretInfo[]> {
  let q = db
    .selectFrom('webhook_secrets')
    .select(['id', 'tenant_id', 'created_at', 'expires_at', isActive.as('active'), sql<boolean>`secret is null`.as('shared')]);
  if (tenantId) q = q.where('tenant_id', '=', tenantId);
  const rows = await q.orderBy('tenant_id').orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => ({
    id: r.id,
    tenantId: r.tenant_id,
    shared: r.shared,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    active: r.active,
  }));
}

/**
 * What signs a batch's webhook now: its tenant's active secrets, newest first, null standing for
 * WEBHOOK_SECRET. `own` is false for a tenant that never had a secret of its own (WEBHOOK_SECRET
 * may sign for it; for one that had one, only while a row says so).
 */
export async function signingSecretsForBatch(
  q: Q,
  batchId: string,
): Promise<{ tenantId: string; own: boolean; secrets: Array<string | null> } | undefined> {
  const batch = await q.selectFrom('batches').select('tenant_id').where('id', '=', batchId).executeTakeFirst();
  if (!batch) return undefined;
  const rows = await q
    .selectFrom('webhook_secrets')
    .select(['secret', isActive.as('active')])
    .where('tenant_id', '=', batch.tenant_id)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
  return {
    tenantId: batch.tenant_id,
    own: rows.length > 0,
    secrets: rows
      .filter((r) => r.active)
      .slice(0, MAX_ACTIVE_SECRETS)
      .map((r) => r.secret),
  };
}

/**
 * Tenants WEBHOOK_SECRET signs for, if set: those that never had a secret of their own, and those
 * in their first rotation's overlap (`own`: these have a secret of their own too).
 */
export async function tenantsSignedWithShared(db: Kysely<Database>): Promise<Array<{ id: string; own: boolean }>> {
  const rows = await db
    .selectFrom('tenants')
    .select(({ exists, selectFrom }) => [
      'id',
      exists(selectFrom('webhook_secrets').select('id').whereRef('webhook_secrets.tenant_id', '=', 'tenants.id')).as('own'),
    ])
    .where(({ or, not, exists, selectFrom }) =>
      or([
        not(exists(selectFrom('webhook_secrets').select('id').whereRef('webhook_secrets.tenant_id', '=', 'tenants.id'))),
        exists(
          selectFrom('webhook_secrets')
            .select('id')
            .whereRef('webhook_secrets.tenant_id', '=', 'tenants.id')
            .where('secret', 'is', null)
            .where(isActive),
        ),
      ]),
    )
    .orderBy('id')
    .execute();
  return rows.map((r) => ({ id: r.id, own: Boolean(r.own) }));
}

/** Whether the tenant has (or had) a secret of its own. */
export async function hasOwnWebhookSecret(db: Kysely<Database>, tenantId: string): Promise<boolean> {
  return Boolean(await db.selectFrom('webhook_secrets').select('id').where('tenant_id', '=', tenantId).executeTakeFirst());
}
