/**
 * Key lookups for authenticated requests, remembered for a few seconds. Every request of a client
 * polling progress used to look its key up in the database first; under a worker's load that round
 * trip was a third of a read's time. A key found is kept for `ttlMs` (API_KEY_CACHE_SECONDS, 5 s
 * by default) under its hash, never the key itself; a key not found is never kept, so a new key
 * works at once. The price is a revocation's delay: a revoked key still works for up to `ttlMs` on
 * each API process that used it just before. 0 turns the cache off.
 */
import type { Kysely } from 'kysely';
import { findKey, hashKey, type KeyOwner } from '../db/keys';
import type { Database } from '../db/schema';

export type KeyLookup = (key: string) => Promise<KeyOwner | undefined>;

export const DEFAULT_KEY_CACHE_MS = 5_000;
/** At most this many keys remembered; past it the oldest entry goes. */
export const MAX_CACHED_KEYS = 10_000;

export function cachedKeyLookup(db: Kysely<Database>, opts: { ttlMs?: number; now?: () => number } = {}): KeyLookup {
  const ttlMs = opts.ttlMs ?? DEFAULT_KEY_CACHE_MS;
  const now = opts.now ?? Date.now;
  if (ttlMs <= 0) return (key) => findKey(db, key);
  const found = new Map<string, { owner: KeyOwner; until: number }>();
  // Concurrent first requests of a key share one lookup.
  const pending = new Map<string, Promise<KeyOwner | undefined>>();

  return async (key) => {
    const hash = hashKey(key);
    const hit = found.get(hash);
    if (hit && hit.until > now()) return hit.owner;
    if (hit) found.delete(hash);
    let lookup = pending.get(hash);
    if (!lookup) {
      lookup = findKey(db, key).finally(() => pending.delete(hash));
      pending.set(hash, lookup);
    }
    const owner = await lookup;
    if (owner && !found.has(hash)) {
      found.set(hash, { owner, until: now() + ttlMs });
      if (found.size > MAX_CACHED_KEYS) found.delete(found.keys().next().value as string);
    }
    return owner;
  };
}
