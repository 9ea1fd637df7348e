/** API keys: stored as sha256 hashes only; the clear key is shown once, when it is made. */
import { createHash, randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema';

export const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');

/** A new random key: 32 bytes of entropy, prefixed so a leaked one is recognisable in a scan. */
export const newKey = (): string => `bf_${randomBytes(32).toString('base64url')}`;

export async function ensureTenant(db: Kysely<Database>, id: string, name = id): Promise<void> {
  await db
    .insertInto('tenants')
    .values({ id, name })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

export async function tenantExists(db: Kysely<Database>, id: string): Promise<boolean> {
  return Boolean(await db.selectFrom('tenants').select('id').where('id', '=', id).executeTakeFirst());
}

/** A new key id: not secret (it is how operators name a key to revoke it), and not the key. */
export const newKeyId = (): string => `key_${randomBytes(8).toString('hex')}`;

/**
 * Stores a key (by hash) under `id`, replacing that id's earlier key. `limits` are the key's
 * overrides of the operator's defaults (see src/auth/limits.ts); on replacement they are kept
 * unless given.
 */
export async function putKey(
  db: Kysely<Database>,
  id: string,
  tenantId: string,
  key: string,
  label: string | null,
  limits?: Record<string, number>,
): Promise<void> {
  await db
    .insertInto('api_keys')
    .values({ id, tenant_id: tenantId, key_hash: hashKey(key), label, limits: JSON.stringify(limits ?? {}) })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet({
        key_hash: hashKey(key),
        tenant_id: tenantId,
        // A revoked key stays revoked when the same secret is stored again (the development key is
        // re-stored at every start); only a new secret under the id is a new, live key.
        revoked_at: sql<Date | null>`case when api_keys.key_hash = excluded.key_hash then api_keys.revoked_at else null end`,
        ...(limits ? { limits: JSON.stringify(limits) } : {}),
      }),
    )
    .execute();
}

/** Mints a key for `tenantId` (creating the tenant if missing); the clear key is returned once and never stored. */
export async function createKey(
  db: Kysely<Database>,
  opts: { tenantId: string; label?: string; limits?: Record<string, number> },
): Promise<{ id: string; key: string }> {
  const id = newKeyId();
  const key = newKey();
  await db.transaction().execute(async (tx) => {
    await ensureTenant(tx, opts.tenantId);
    await putKey(tx, id, opts.tenantId, key, opts.label ?? null, opts.limits ?? {});
  });
  return { id, key };
}

/** What operators may see of a key: never its hash, never the key. */
export interface KeyInfo {
  id: string;
  tenantId: string;
  label: string | null;
  limits: Record<string, number>;
  createdAt: Date;
  revokedAt: Date | null;
}

export async function listKeys(db: Kysely<Database>, tenantId?: string): Promise<KeyInfo[]> {
  let q = db.selectFrom('api_keys').select(['id', 'tenant_id', 'label', 'limits', 'created_at', 'revoked_at']);
  if (tenantId) q = q.where('tenant_id', '=', tenantId);
  const rows = await q.orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => ({
    id: r.id,
    tenantId: r.tenant_id,
    label: r.label,
    limits: r.limits,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  }));
}

export interface KeyOwner {
  keyId: string;
  tenantId: string;
  limits: Record<string, number>;
}

export async function findKey(db: Kysely<Database>, key: string): Promise<KeyOwner | undefined> {
  const row = await db
    .selectFrom('api_keys')
    .select(['id', 'tenant_id', 'limits'])
    .where('key_hash', '=', hashKey(key))
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return row ? { keyId: row.id, tenantId: row.tenant_id, limits: row.limits } : undefined;
}

export async function revokeKey(db: Kysely<Database>, id: string): Promise<boolean> {
  const res = await db
    .updateTable('api_keys')
    .set({ revoked_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}
