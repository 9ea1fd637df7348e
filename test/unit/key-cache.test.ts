/**
 * The API's cached key lookup (src/auth/key-cache.ts) against the real database (PGlite here): a
 * key found is remembered until its time runs out, a revoked key stops working once it does, an
 * unknown key is never remembered, and concurrent first lookups share one query.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cachedKeyLookup } from '../../src/auth/key-cache';
import { createKey, ensureTenant, revokeKey } from '../../src/db/keys';
import { testDb, type TestDb } from '../helpers/db';

let db: TestDb;
before(async () => {
  db = await testDb();
  await ensureTenant(db.db, 'acme');
});
after(() => db.close());

/** Counts the api_keys lookups the lookup makes, through Kysely's query log. */
function countingLookup(ttlMs: number, now: () => number) {
  let queries = 0;
  const counted = db.db.withPlugin({
    transformQuery: (a) => (a.node.kind === 'SelectQueryNode' && (queries++, true), a.node),
    transformResult: async (a) => a.result,
  });
  return { find: cachedKeyLookup(counted, { ttlMs, now }), queries: () => queries };
}

test('a key found is remembered for the cache time, then looked up again; a revocation shows once it runs out', async () => {
  let clock = 1_000;
  const { key, id } = await createKey(db.db, { tenantId: 'acme' });
  const lookup = countingLookup(5_000, () => clock);
  const owner = await lookup.find(key);
  assert.equal(owner?.tenantId, 'acme');
  assert.deepEqual(await lookup.find(key), owner);
  assert.equal(lookup.queries(), 1, 'the second request skips the database');

  await revokeKey(db.db, id);
  clock += 4_999;
  assert.deepEqual(await lookup.find(key), owner, 'within the cache time the revocation is not seen yet');
  clock += 1;
  assert.equal(await lookup.find(key), undefined, 'once it runs out, the revoked key is refused');
  assert.equal(lookup.queries(), 2);
});

test('an unknown key is never remembered: a key created after a miss works at once', async () => {
  const lookup = countingLookup(60_000, () => 0);
  assert.equal(await lookup.find('bf_not-a-key'), undefined);
  assert.equal(await lookup.find('bf_not-a-key'), undefined);
  assert.equal(lookup.queries(), 2, 'each miss asks the database');
});

test('concurrent first requests of a key share one lookup', async () => {
  const { key } = await createKey(db.db, { tenantId: 'acme' });
  const lookup = countingLookup(5_000, Date.now);
  const owners = await Promise.all(Array.from({ length: 20 }, () => lookup.find(key)));
  assert.ok(owners.every((o) => o?.tenantId === 'acme'));
  assert.equal(lookup.queries(), 1);
});

test('a cache time of 0 looks every request up', async () => {
  const { key } = await createKey(db.db, { tenantId: 'acme' });
  const lookup = countingLookup(0, Date.now);
  await lookup.find(key);
  await lookup.find(key);
  assert.equal(lookup.queries(), 2);
});
