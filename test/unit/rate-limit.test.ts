/**
 * The shared rate limiter against the real database (a PostgreSQL schema of its own when
 * DATABASE_URL is set, PGlite otherwise): grants never exceed the limit within the window, however
 * many takers ask at once and from however many pools; waits say how long; a limited stage goes
 * through its chunk in slices of what was granted, recording each slice as it goes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { sql } from 'kysely';
import { acquire, perMinute, take, type RateLimit } from '../../activities/rate-limit';
import { runStage, type ItemResult } from '../../activities/stages/runner';
import { emptyCounts, type StageInput, type StageOutcome } from '../../src/contracts/workflow';
import { openDb, type Db } from '../../src/db/connect';
import { insertBatch } from '../../src/db/batches';
import { ensureTenant } from '../../src/db/keys';
import { testDb, type TestDb } from '../helpers/db';

let db: TestDb;
before(async () => {
  db = await testDb();
});
after(() => db.close());

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let keys = 0;
/** Each test its own limiter key, so tests in this file never share a window. */
const freshKey = (): string => `test-${++keys}`;

test('grants stop at the limit within the window, and the refusal says when a slot frees', async () => {
  const key = freshKey();
  const limit = perMinute(10);
  assert.deepEqual(await take(db.db, key, limit, 4), { granted: 4, retryInMs: 0 });
  assert.deepEqual(await take(db.db, key, limit, 4), { granted: 4, retryInMs: 0 });
  const partial = await take(db.db, key, limit, 4);
  assert.equal(partial.granted, 2, 'only what is left of the limit');
  assert.ok(partial.retryInMs > 55_000 && partial.retryInMs <= limit.windowMs, `retry in ${partial.retryInMs} ms`);
  const refused = await take(db.db, key, limit, 1);
  assert.equal(refused.granted, 0);
  assert.ok(refused.retryInMs > 55_000 && refused.retryInMs <= limit.windowMs, `retry in ${refused.retryInMs} ms`);
  // The limit is per key: another stage is not affected.
  assert.equal((await take(db.db, freshKey(), limit, 3)).granted, 3);
});

test('the window slides: slots come back as the oldest grants age out, not all at once', async () => {
  const key = freshKey();
  // Seconds apart, so that a busy machine's scheduling delays cannot blur which grant is older.
  const limit: RateLimit = { max: 4, windowMs: 4_000 };
  assert.equal((await take(db.db, key, limit, 2)).granted, 2);
  await sleep(2_000);
  assert.equal((await take(db.db, key, limit, 2)).granted, 2);
  const full = await take(db.db, key, limit, 4);
  assert.equal(full.granted, 0);
  // The first two age out about 2 s from now, the second two about 4 s from now.
  assert.ok(full.retryInMs > 0 && full.retryInMs < limit.windowMs, `retry in ${full.retryInMs} ms`);
  await sleep(full.retryInMs + 50);
  const next = await take(db.db, key, limit, 4);
  assert.equal(next.granted, 2, 'only the first grant has aged out');
  assert.ok(next.retryInMs > 0 && next.retryInMs < limit.windowMs, `retry in ${next.retryInMs} ms`);
});

test('concurrent takers, from two pools as two workers would be, never share out more than the limit', async () => {
  const key = freshKey();
  const limit = perMinute(25);
  // On PostgreSQL a second pool on the same schema stands for a second worker process.
  const other: Db | undefined = db.url ? await openDb({ url: db.url, poolSize: 5 }) : undefined;
  try {
    const pools = [db.db, other?.db ?? db.db];
    const wanted = Array.from({ length: 60 }, (_, i) => 1 + (i % 4));
    const grants = await Promise.all(wanted.map((n, i) => take(pools[i % 2]!, key, limit, n)));
    const total = grants.reduce((sum, g) => sum + g.granted, 0);
    assert.equal(total, 25, 'the limit, exactly: no more, and nothing lost while more was wanted');
    grants.forEach((g, i) => assert.ok(g.granted >= 0 && g.granted <= wanted[i]!));
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from rate_events where stage = ${key}`.execute(db.db);
    assert.equal(rows[0]!.n, 25, 'one log row per item let through');
  } finally {
    await other?.close();
  }
});

test('acquire waits for a slot, heartbeating, and stops waiting when cancelled', async () => {
  const key = freshKey();
  const limit: RateLimit = { max: 3, windowMs: 1_500 };
  const never = new AbortController().signal;
  assert.equal(await acquire(db.db, key, limit, 3, { signal: never, heartbeat: () => undefined }), 3);

  let heartbeats = 0;
  const waits: number[] = [];
  const started = Date.now();
  const got = await acquire(db.db, key, limit, 5, { signal: never, heartbeat: () => heartbeats++, onWait: (ms) => waits.push(ms) });
  const waited = Date.now() - started;
  assert.equal(got, 3, 'the whole limit once the window has passed, not what was wanted');
  assert.ok(waited >= 1_300 && waited < 4_000, `waited ${waited} ms`);
  assert.ok(waits.length >= 1 && waits[0]! > 1_000 && waits[0]! <= 1_500, `waits ${waits.join(', ')}`);
  assert.ok(heartbeats >= 1, 'heartbeats while waiting');

  const cancel = new AbortController();
  setTimeout(() => cancel.abort(), 200);
  const before = Date.now();
  assert.equal(await acquire(db.db, key, limit, 1, { signal: cancel.signal, heartbeat: () => undefined }), 0);
  assert.ok(Date.now() - before < 1_000, 'a cancel ends the wait at once');
});

test('a limited stage runs its chunk in slices of what was granted, recording each slice as it goes', async () => {
  const tenantId = 'acme';
  const batchId = `b_rate_${Date.now()}`;
  await ensureTenant(db.db, tenantId);
  await insertBatch(
    db.db,
    {
      id: batchId,
      tenant_id: tenantId,
      status: 'running',
      priority: 'normal',
      options: '{}',
      metadata: '{}',
      callback_url: null,
      total_items: 25,
      counts: JSON.stringify(emptyCounts(25)),
      error: null,
      idempotency_key: null,
      request_hash: null,
      workflow_id: `batch-${batchId}`,
    },
    Array.from({ length: 25 }, (_, i) => ({ ref: `r${i}`, text: `item ${i}`, content: null, contentType: null, attributes: null })),
  );
  const input: StageInput = {
    batchId,
    tenantId,
    stage: 'publish',
    previousStage: null,
    lastStage: true,
    range: { from: 0, to: 25 },
    chunkIndex: 0,
    chunkCount: 1,
    attempt: 1,
    maxAttempts: 5,
  };
  const slices: Array<{ size: number; recordedBefore: number }> = [];
  const recorded = async (): Promise<number> =>
    // Results, not the pending rows that mark a publish as possibly sent before it goes.
    (
      await db.db
        .selectFrom('item_results')
        .select((e) => e.fn.countAll<number>().as('n'))
        .where('batch_id', '=', batchId)
        .where('status', '!=', 'pending')
        .executeTakeFirstOrThrow()
    ).n;
  const handler = async (items: Array<{ seq: number }>): Promise<ItemResult[]> => {
    slices.push({ size: items.length, recordedBefore: Number(await recorded()) });
    return items.map((i) => ({ seq: i.seq, ok: true, publishedId: `p${i.seq}` }));
  };

  // The stage is the limiter's key; no other test in this file (or this database) limits 'publish'.
  const limit: RateLimit = { max: 10, windowMs: 1_000 };
  const run = (): Promise<StageOutcome> => runStage(db.db, input, handler, limit);
  const outcome = await new MockActivityEnvironment().run<[], StageOutcome, typeof run>(run);
  assert.deepEqual(
    slices.map((s) => s.size),
    [10, 10, 5],
  );
  assert.deepEqual(
    slices.map((s) => s.recordedBefore),
    [0, 10, 20],
    'each slice is recorded before the next is taken',
  );
  assert.equal(outcome.succeeded, 25);
  assert.equal(Number(await recorded()), 25);
});
