/**
 * The shared progress poller (src/batches/progress-cache.ts), against a fake workflow: how many
 * queries reads cause, what a failed query leaves, and when pollers stop. Bounds on counts, never
 * on durations: a busy machine can only make fewer queries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createProgressCache, type ProgressCache, type Snapshot } from '../../src/batches/progress-cache';
import type { BatchStatus, Progress } from '../../src/contracts/workflow';
import type { BatchRow } from '../../src/db/schema';

const row = (id: string, more: Partial<BatchRow> = {}) =>
  ({ id, workflow_id: `batch-${id}`, tenant_id: 'acme', status: 'running', ...more }) as BatchRow;
const progress = (finished: number, status: BatchStatus = 'running') => ({ status, finished }) as unknown as Progress;

/** Waits until `cond` holds (a condition, not a time: a slow machine only waits longer). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (const t0 = Date.now(); !cond(); await sleep(5)) if (Date.now() - t0 > 10_000) assert.fail(`never: ${what}`);
}

/** The first answer of a batch's poller: a first read starts it and does not wait, so read until it has answered. */
async function firstAnswer(cache: ProgressCache, id: string): Promise<Snapshot | null> {
  for (const t0 = Date.now(); Date.now() - t0 < 10_000; await sleep(2)) {
    const snap = await cache.read(row(id));
    if (snap) return snap;
  }
  return assert.fail(`batch ${id}'s poller never answered`);
}

/** A fake workflow: counts its queries, answers from `answer`, optionally after `delayMs`. */
function fakeWorkflow(answer: (n: number, id: string) => Progress | null | Error, delayMs = 0) {
  const asked: string[] = [];
  return {
    asked,
    ask: async (r: BatchRow): Promise<Progress | null> => {
      asked.push(r.id);
      if (delayMs) await sleep(delayMs);
      const a = answer(asked.length, r.id);
      if (a instanceof Error) throw a;
      return a;
    },
  };
}

test('50 concurrent first reads of a batch cause one query, and none waits for it', async () => {
  let release = (): void => undefined;
  const asked: string[] = [];
  const cache = createProgressCache({
    intervalMs: 10_000,
    ask: (r) => (asked.push(r.id), new Promise((resolve) => (release = () => resolve(progress(1))))),
  });
  // The query never answers until released: a first read that waited would hang here.
  const snaps = await Promise.all(Array.from({ length: 50 }, () => cache.read(row('b1'))));
  assert.equal(asked.length, 1);
  assert.ok(
    snaps.every((s) => s === null),
    'no snapshot yet: the row answers',
  );
  release();
  await until(() => asked.length === 1 && cache.size() === 1, 'the poller is running');
  await sleep(0);
  assert.deepEqual((await cache.read(row('b1')))?.progress, progress(1), 'the next read has the answer');
  cache.close();
});

test('readers in a loop cause at most one query per interval, however many they are', async () => {
  const intervalMs = 40;
  const wf = fakeWorkflow((n) => progress(n));
  const cache = createProgressCache({ ask: wf.ask, intervalMs });
  const started = Date.now();
  let reads = 0;
  const reader = async () => {
    while (Date.now() - started < 400) {
      await cache.read(row('b1'));
      reads++;
      await sleep(5);
    }
  };
  await Promise.all(Array.from({ length: 20 }, reader));
  const elapsed = Date.now() - started;
  cache.close();
  assert.ok(reads > 200, `the readers read (${reads})`);
  assert.ok(wf.asked.length >= 2, 'the poller asked again while read');
  assert.ok(wf.asked.length <= Math.ceil(elapsed / intervalMs) + 1, `${wf.asked.length} queries in ${elapsed} ms`);
});

test('a read answers from the last snapshot, and says when the workflow gave it', async () => {
  const wf = fakeWorkflow((n) => progress(n));
  const cache = createProgressCache({ ask: wf.ask, intervalMs: 30 });
  const first = await firstAnswer(cache, 'b1');
  await until(() => wf.asked.length >= 3, 'the poller asks again');
  const later = await cache.read(row('b1'));
  cache.close();
  assert.ok(first && later);
  assert.ok(later.at > first.at, 'a newer answer has a later time');
  assert.ok((later.progress as unknown as { finished: number }).finished > 1);
});

test('a failed query keeps the last snapshot, with its age', async () => {
  const wf = fakeWorkflow((n) => (n === 1 ? progress(7) : n % 2 === 0 ? null : new Error('no worker')));
  const cache = createProgressCache({ ask: wf.ask, intervalMs: 20 });
  const first = await firstAnswer(cache, 'b1');
  await until(() => wf.asked.length >= 3, 'it asks again and gets failures');
  const later = await cache.read(row('b1'));
  cache.close();
  assert.deepEqual(later, first, 'the snapshot and its time are the first answer');
});

test('a batch whose first query fails reads as no snapshot (the row answers)', async () => {
  const wf = fakeWorkflow(() => null);
  const cache = createProgressCache({ ask: wf.ask, intervalMs: 1_000 });
  assert.equal(await cache.read(row('b1')), null);
  await until(() => wf.asked.length === 1, 'the poller asked');
  await sleep(0);
  assert.equal(await cache.read(row('b1')), null, 'still none after the failed answer');
  cache.close();
});

test('a poller nobody reads stops after the idle time', async () => {
  const wf = fakeWorkflow((n) => progress(n));
  const cache = createProgressCache({ ask: wf.ask, intervalMs: 10, idleMs: 60 });
  await cache.read(row('b1'));
  await until(() => cache.size() === 0, 'the poller stops');
  const asked = wf.asked.length;
  await sleep(60);
  assert.equal(wf.asked.length, asked, 'and asks no more');
});

test('a poller stops when the workflow says the batch has ended', async () => {
  const wf = fakeWorkflow((n) => progress(n, n >= 2 ? 'completed' : 'running'));
  const cache = createProgressCache({ ask: wf.ask, intervalMs: 10 });
  await cache.read(row('b1'));
  await until(() => cache.size() === 0, 'the poller stops');
  await sleep(50);
  assert.equal(wf.asked.length, 2, 'no query after the one that said completed');
});

test('past the cap, the least recently read poller stops', async () => {
  const wf = fakeWorkflow((n) => progress(n));
  const cache = createProgressCache({ ask: wf.ask, intervalMs: 10_000, maxPollers: 2 });
  await cache.read(row('a'));
  await cache.read(row('b'));
  await cache.read(row('a'));
  await cache.read(row('c'));
  assert.equal(cache.size(), 2);
  await cache.read(row('a'));
  assert.deepEqual(wf.asked, ['a', 'b', 'c'], "'a' was read last, so 'b' stopped; 'a' still polls");
  cache.close();
});

test('close stops every poller', async () => {
  const wf = fakeWorkflow((n) => progress(n));
  const cache = createProgressCache({ ask: wf.ask, intervalMs: 10 });
  await Promise.all(['a', 'b', 'c'].map((id) => cache.read(row(id))));
  cache.close();
  const asked = wf.asked.length;
  await sleep(60);
  assert.equal(cache.size(), 0);
  assert.equal(wf.asked.length, asked);
});

test('after forget, the next read waits for a fresh answer', async () => {
  const wf = fakeWorkflow((n) => progress(n));
  const cache = createProgressCache({ ask: wf.ask, intervalMs: 10_000 });
  assert.deepEqual((await firstAnswer(cache, 'b1'))?.progress, progress(1));
  assert.deepEqual((await cache.read(row('b1')))?.progress, progress(1), 'within the interval: the same snapshot');
  cache.forget('b1');
  assert.deepEqual((await cache.read(row('b1')))?.progress, progress(2), 'after forget: a new query');
  cache.close();
});

test('a query slower than the interval never overlaps the next: the pause starts at each answer', async () => {
  const intervalMs = 10;
  let inFlight = 0;
  let most = 0;
  const gaps: number[] = [];
  let answeredAt = 0;
  const cache = createProgressCache({
    intervalMs,
    ask: async () => {
      if (answeredAt) gaps.push(Date.now() - answeredAt);
      most = Math.max(most, ++inFlight);
      await sleep(40);
      inFlight--;
      answeredAt = Date.now();
      return progress(1);
    },
  });
  const reader = setInterval(() => void cache.read(row('b1')), 5);
  await until(() => gaps.length >= 4, 'the poller asks a few times');
  clearInterval(reader);
  cache.close();
  assert.equal(most, 1, 'one query at a time');
  // Timers fire no earlier than asked (less a millisecond of rounding).
  assert.ok(
    gaps.every((g) => g >= intervalMs - 1),
    `each query starts an interval after the last answer: ${gaps.join(', ')} ms`,
  );
});

test('a read waiting for a fresh answer gets it even if its poller was evicted meanwhile', async () => {
  let release = (): void => undefined;
  const cache = createProgressCache({
    intervalMs: 10_000,
    maxPollers: 1,
    ask: (r) => (r.id === 'a' ? new Promise((resolve) => (release = () => resolve(progress(3)))) : Promise.resolve(progress(1))),
  });
  cache.forget('a');
  const waiting = cache.read(row('a'));
  await cache.read(row('b'));
  assert.equal(cache.size(), 1, "'a' was evicted");
  release();
  assert.deepEqual((await waiting)?.progress, progress(3));
  cache.close();
});
