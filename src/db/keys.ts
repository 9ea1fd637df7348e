/** API keys: stored as sha256 hashes only; the clear key is shown once, when it is made. */
import { createHash, randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema';

export const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');

/** A new random key: 32 bytes of entropy, prefixed so a leaked one is recognisable in a scan. */
export const newKey = (): string => `bf_${randomBytes(32).toString('base64url')}`;

export async function ensureTenant(db: Kysely<Database>, id: string, name = id): Promise<void> {
  await db.insertInto('tenants').values({ id, name }).onConflict((oc) => oc.column('id').doNothing()).execute();
}

/** Stores a key (by hash) under `id`, replacing that id's earlier key. */
export async function putKey(db: Kysely<Database>, id: string, tenantId: string, key: string, label: string | null): Promise<void> {
  await db
    .insertInto('api_keys')
    .values({ id, tenant_id: tenantId, key_hash: hashKey(key), label, limits: '{}' })
    .onConflict((oc) => oc.column('id').doUpdateSet({ key_hash: hashKey(key), tenant_id: tenantId, revoked_at: null }))
    .execute();
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
  const res = await db.updateTable('api_keys').set({ revoked_at: sql<Date>`now()` }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}
