/**
 * The API's request rates (src/api/middleware/rate-limit.ts with rate-leases.ts) against the real
 * store (PGlite here): a small limit is counted in the store request by request; a busy key's
 * requests are granted from leases, one round trip a twentieth of the budget, and never past the
 * limit, however many API processes grant at once; what is left is given back at shutdown.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import pino from 'pino';
import { createRateLimits, type RateLimits } from '../../src/api/middleware/rate-limit';
import { RateLeases } from '../../src/api/middleware/rate-leases';
import { CONTRACT_LIMITS, type KeyLimits } from '../../src/auth/limits';
import type { AuthedKey } from '../../src/api/middleware/auth';
import { testDb, type TestDb } from '../helpers/db';

let db: TestDb;
const opened: RateLimits[] = [];
before(async () => {
  db = await testDb();
});
after(async () => {
  await Promise.all(opened.map((r) => r.close()));
  await db.close();
});

let keys = 0;
/** A key of its own for each test, with `reads` a minute. */
function keyWith(reads: number): AuthedKey {
  const limits: KeyLimits = { ...CONTRACT_LIMITS, reads: { points: reads, windowSeconds: 60 } };
  return { id: `key_${++keys}`, tenantId: 't', limits };
}

/** An API process's rate limits. */
function apiProcess() {
  const rates = createRateLimits({ db: db.db, log: pino({ level: 'silent' }) });
  opened.push(rates);
  return { rates };
}

const stored = async (key: AuthedKey): Promise<number> => {
  const r = await sql<{ points: number }>`select points from rate_limits where key = ${`reads:${key.id}`}`.execute(db.db);
  return Number(r.rows[0]?.points ?? 0);
};

type Taken = Awaited<ReturnType<RateLimits['take']>>;
const remaining = (taken: Taken): number => Number(taken.headers['X-RateLimit-Remaining']);

test('a limit under 100 a window is counted in the store, request by request', async () => {
  const { rates } = apiProcess();
  const key = keyWith(50);
  for (let i = 1; i <= 5; i++) {
    const taken = await rates.take(key, 'reads');
    assert.equal(remaining(taken), 50 - i);
    assert.equal(await stored(key), i);
  }
});

test("a busy key's reads take one round trip a lease (a twentieth of the budget); one process's headers count exactly", async () => {
  const { rates } = apiProcess();
  const key = keyWith(600);
  const seen: number[] = [];
  const inStore: number[] = [];
  for (let i = 0; i < 61; i++) {
    seen.push(remaining(await rates.take(key, 'reads')));
    inStore.push(await stored(key));
  }
  assert.deepEqual(
    seen,
    Array.from({ length: 61 }, (_, i) => 599 - i),
  );
  // Leases of 30: requests 1, 31 and 61 asked the store, which counts each lease whole.
  assert.deepEqual(inStore, [...Array(30).fill(30), ...Array(30).fill(60), 90]);
  await rates.close();
  assert.equal(await stored(key), 61, 'what was left of the last lease is given back at shutdown');
});

test('concurrent requests share one lease, and share its refusal', async () => {
  let store = 0;
  let asked = 0;
  const leases = new RateLeases(async (_key, n) => {
    asked++;
    store += n;
    await new Promise((r) => setTimeout(r, 20));
    return { consumed: store, msBeforeNext: 30_000 };
  }, 600);
  const first = await Promise.all(Array.from({ length: 50 }, () => leases.take('k')));
  assert.ok(first.every((g) => g.granted));
  assert.equal(asked, 2, 'two leases of 30 for 50 requests at once');
  assert.equal(store, 60);
  // Another process spends the rest of the budget; this one grants what its lease has left, then is refused.
  store = 600;
  while ((await leases.take('k')).granted);
  const before = asked;
  const after = await Promise.all(Array.from({ length: 50 }, () => leases.take('k')));
  assert.ok(after.every((g) => !g.granted && g.remaining === 0));
  assert.equal(asked - before, 1, 'one refused lease answers the 50 who waited for it');
  await leases.close();
});

test('one process grants exactly the limit, then refuses with Retry-After and no remaining', async () => {
  const { rates } = apiProcess();
  const key = keyWith(100);
  let granted = 0;
  let refused: Taken | undefined;
  for (let i = 0; i < 120 && !refused; i++) {
    const taken = await rates.take(key, 'reads');
    if (taken.retryAfter !== undefined) refused = taken;
    else granted++;
  }
  assert.equal(granted, 100);
  assert.ok(refused && refused.retryAfter! >= 1 && refused.retryAfter! <= 60, 'refused, with a Retry-After within the window');
  assert.equal(remaining(refused!), 0);
});

test('three API processes granting the same key at once never pass the limit between them', async () => {
  const procs = [apiProcess(), apiProcess(), apiProcess()];
  const key = keyWith(200);
  let granted = 0;
  // Concurrent within each round, as busy processes behind a balancer.
  for (let round = 0; round < 100; round++) {
    const taken = await Promise.all(procs.map((p) => p.rates.take(key, 'reads')));
    granted += taken.filter((t) => t.retryAfter === undefined).length;
  }
  assert.ok(granted <= 200, `granted ${granted} of 200`);
  // Leases held unused by the others are spent for the one refused: at most a lease each early.
  assert.ok(granted >= 200 - 2 * 10, `granted ${granted}: refused at most two leases early`);
});

test('a lease would pass the limit: it grants only what the store had left', async () => {
  let store = 95;
  const leases = new RateLeases(async (_key, n) => ((store += n), { consumed: store, msBeforeNext: 30_000 }), 100);
  const grants = [];
  for (let i = 0; i < 7; i++) grants.push((await leases.take('k')).granted);
  assert.deepEqual(grants, [true, true, true, true, true, false, false]);
  await leases.close();
});

test('a store that cannot answer refuses nothing it already leased, and fails the request that needs a new lease', async () => {
  let down = false;
  let store = 0;
  const leases = new RateLeases(async (_key, n) => {
    if (down) throw new Error('the database is down');
    store += n;
    return { consumed: store, msBeforeNext: 30_000 };
  }, 200);
  assert.equal((await leases.take('k')).granted, true);
  down = true;
  for (let i = 0; i < 9; i++) assert.equal((await leases.take('k')).granted, true, 'granted from the lease of 10');
  await assert.rejects(leases.take('k'), /the database is down/);
  down = false;
  assert.equal((await leases.take('k')).granted, true);
  assert.equal(store, 20);
  await leases.close();
});

test("one window's requests are told one end, however long the store takes to answer", async () => {
  // The store measures the time left as it answers (as RateLimiterPostgres does from the row's
  // expiry); slow answers must not move the end the grant reports.
  const end = Date.now() + 30_000;
  let store = 0;
  const leases = new RateLeases(async (_key, n) => {
    await new Promise((r) => setTimeout(r, 15 * (store + 1)));
    store += n;
    return { consumed: store, msBeforeNext: end - Date.now() };
  }, 10);
  const ends = [];
  for (let i = 0; i < 4; i++) ends.push((await leases.take('k')).resetAt);
  for (const at of ends) assert.ok(Math.abs(at - end) <= 2, `reset ${at - end} ms from the window's end`);
  await leases.close();
});
