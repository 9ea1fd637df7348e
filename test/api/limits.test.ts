/**
 * Per-key limits (docs/api.md "Limits"): items per batch, active batches under concurrency, the
 * three request buckets and their X-RateLimit-* headers, shared by every API process.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { sql } from 'kysely';
import pino from 'pino';
import { createApp } from '../../src/api/app';
import { openDb, type Db } from '../../src/db/connect';
import { putKey } from '../../src/db/keys';
import { CONTRACT_LIMITS } from '../../src/auth/limits';
import { eventually, sleep, terminateRunning } from '../helpers/api';
import { assertRetryAfter, expectError } from '../helpers/errors';
import { items, startStack, type Stack } from '../helpers/stack';

// No worker: accepted batches stay queued, so each holds its active slot for the whole file.
let stack: Stack;
before(async () => {
  stack = await startStack({ noWorker: true });
});
after(async () => {
  await terminateRunning(stack);
  await stack.stop();
});

const post = (body: unknown, key: string, headers: Record<string, string> = {}) =>
  stack.api('/v1/batches', { method: 'POST', body: JSON.stringify(body), key, headers });

async function activeRows(tenantId: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from batches where tenant_id = ${tenantId}`.execute(stack.db.db);
  return rows[0]!.n;
}

interface RateHeaders {
  limit: number;
  remaining: number;
  reset: number;
}
function rateHeaders(res: Response): RateHeaders {
  const [limit, remaining, reset] = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'].map((h) => {
    const v = res.headers.get(h);
    assert.ok(v !== null && /^\d+$/.test(v), `${h} is a whole number (got ${v})`);
    return Number(v);
  });
  return { limit: limit!, remaining: remaining!, reset: reset! };
}

describe('max_items', () => {
  test("a batch over the key's max_items is a 400 naming items; at the limit it is accepted", async () => {
    const { tenantId, key } = await stack.addTenant({ max_items: 5 });
    const res = await post({ items: items(6) }, key);
    const body = await expectError(res, 400, 'validation_failed');
    assert.equal(body.error.details!.length, 1);
    assert.equal(body.error.details![0]!.path, 'items');
    assert.match(body.error.details![0]!.issue, /at most 5 items/);
    assert.equal(await activeRows(tenantId), 0);
    assert.equal((await post({ items: items(5) }, key)).status, 202);
  });

  test('items_text counts the same way', async () => {
    const { key } = await stack.addTenant({ max_items: 2 });
    const body = await expectError(await post({ items_text: 'a,b,c' }, key), 400, 'validation_failed');
    assert.equal(body.error.details![0]!.path, 'items');
  });

  test("the default is the contract's 50,000", () => {
    assert.equal(CONTRACT_LIMITS.maxItems, 50_000);
  });
});

describe('max_active_batches', () => {
  test('10 parallel submissions with 3 allowed start exactly 3; the other 7 answer 429 and leave nothing', async () => {
    const { tenantId, key } = await stack.addTenant({ max_active_batches: 3 });
    const answers = await Promise.all(Array.from({ length: 10 }, () => post({ items: items(2) }, key)));
    const accepted = answers.filter((r) => r.status === 202);
    const refused = answers.filter((r) => r.status !== 202);
    assert.equal(accepted.length, 3, `statuses: ${answers.map((r) => r.status).join(',')}`);
    for (const res of refused) assertRetryAfter(res, await expectError(res, 429, 'too_many_active_batches'));
    const ids = await Promise.all(accepted.map(async (r) => ((await r.json()) as { batch_id: string }).batch_id));
    assert.equal(new Set(ids).size, 3);
    assert.equal(await activeRows(tenantId), 3);
    const { rows } = await sql<{
      n: number;
    }>`select count(*)::int as n from batch_items i join batches b on b.id = i.batch_id where b.tenant_id = ${tenantId}`.execute(
      stack.db.db,
    );
    assert.equal(rows[0]!.n, 6);
    // Exactly three workflows were started for the tenant.
    await eventually(
      'three workflows in visibility',
      async () => (await stack.client.workflow.count(`TenantId = "${tenantId}"`)).count === 3,
      30_000,
    );
    await sleep(1_000);
    assert.equal((await stack.client.workflow.count(`TenantId = "${tenantId}"`)).count, 3);
  });

  test("paused and cancelling batches hold their slot; the count is the tenant's, the ceiling the calling key's", async () => {
    const { tenantId, key } = await stack.addTenant({ max_active_batches: 2 });
    const first = (await (await post({ items: items(1) }, key)).json()) as { batch_id: string };
    assert.equal((await stack.api(`/v1/batches/${first.batch_id}/pause`, { method: 'POST', key })).status, 202);
    const second = (await (await post({ items: items(1) }, key)).json()) as { batch_id: string };
    assert.equal((await stack.api(`/v1/batches/${second.batch_id}/cancel`, { method: 'POST', body: '{}', key })).status, 202);
    const { rows } = await sql<{ status: string }>`select status from batches where tenant_id = ${tenantId} order by created_at`.execute(
      stack.db.db,
    );
    assert.deepEqual(rows.map((r) => r.status).sort(), ['cancelling', 'paused']);
    await expectError(await post({ items: items(1) }, key), 429, 'too_many_active_batches');

    // A second key of the same tenant with a higher ceiling sees the same two active batches.
    const wider = `bf_test_wider_${tenantId}`;
    await putKey(stack.db.db, `key_wider_${tenantId}`, tenantId, wider, 'wider', { max_active_batches: 3 });
    assert.equal((await post({ items: items(1) }, wider)).status, 202);
    await expectError(await post({ items: items(1) }, wider), 429, 'too_many_active_batches');
    await expectError(await post({ items: items(1) }, key), 429, 'too_many_active_batches');
    assert.equal(await activeRows(tenantId), 3);
  });

  test("without an override a key gets the contract's 3", async () => {
    const { key } = await stack.addTenant({});
    for (let i = 0; i < 3; i++) assert.equal((await post({ items: items(1) }, key)).status, 202);
    await expectError(await post({ items: items(1) }, key), 429, 'too_many_active_batches');
  });
});

describe('request rates', () => {
  test("without overrides a key gets the contract's 60 submissions, 600 reads and 30 exports a minute", async () => {
    const { key } = await stack.addTenant({});
    const submitted = await post({ items: items(1) }, key);
    assert.equal(submitted.status, 202);
    const { batch_id } = (await submitted.json()) as { batch_id: string };
    const read = await stack.api(`/v1/batches/${batch_id}`, { key });
    const exported = await stack.api(`/v1/batches/${batch_id}/export?format=json`, { key });
    await exported.arrayBuffer();
    const now = Date.now() / 1000;
    for (const [res, limit] of [
      [submitted, 60],
      [read, 600],
      [exported, 30],
    ] as const) {
      const h = rateHeaders(res);
      assert.deepEqual([h.limit, h.remaining], [limit, limit - 1]);
      // A minute's window: it resets within 60 s (plus a second for the clock's rounding).
      assert.ok(h.reset >= now - 1 && h.reset <= now + 61, `reset ${h.reset} is within a minute of ${now}`);
    }
    assert.deepEqual(
      [CONTRACT_LIMITS.submissions, CONTRACT_LIMITS.reads, CONTRACT_LIMITS.exports],
      [
        { points: 60, windowSeconds: 60 },
        { points: 600, windowSeconds: 60 },
        { points: 30, windowSeconds: 60 },
      ],
    );
  });

  test('a count stored without its window (written when every window was an hour) keeps its hour', async () => {
    const { key } = await stack.addTenant({ reads: 5 });
    const res = await stack.api('/v1/batches', { key });
    const h = rateHeaders(res);
    assert.deepEqual([h.limit, h.remaining], [5, 4]);
    const now = Date.now() / 1000;
    assert.ok(h.reset > now + 3_000 && h.reset <= now + 3_601, `reset ${h.reset} is about an hour after ${now}`);
  });

  test('headers count down, refuse at zero with Retry-After, and reset after the window', async () => {
    const { key } = await stack.addTenant({ reads: 3, reads_window_s: 2 });
    const seen: RateHeaders[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await stack.api('/v1/batches', { key });
      assert.equal(res.status, 200);
      seen.push(rateHeaders(res));
    }
    assert.deepEqual(
      seen.map((h) => [h.limit, h.remaining]),
      [
        [3, 2],
        [3, 1],
        [3, 0],
      ],
    );
    // One window: the same reset for all three.
    assert.equal(new Set(seen.map((h) => h.reset)).size, 1);
    const reset = seen[0]!.reset;
    assert.ok(reset * 1000 >= Date.now() - 1000, 'the reset is now or later, in epoch seconds');

    const refused = await stack.api('/v1/batches', { key });
    const body = await expectError(refused, 429, 'rate_limited');
    assertRetryAfter(refused, body);
    assert.deepEqual([rateHeaders(refused).limit, rateHeaders(refused).remaining], [3, 0]);

    // Past the reset the window starts again, whatever the clock's precision.
    await sleep(Math.max(0, reset * 1000 - Date.now()) + 250);
    const fresh = await stack.api('/v1/batches', { key });
    assert.equal(fresh.status, 200);
    const h = rateHeaders(fresh);
    assert.deepEqual([h.limit, h.remaining], [3, 2]);
    assert.ok(h.reset > reset, 'a new window, with a later reset');
  });

  test('each bucket has its own count: submissions, reads, exports; control actions draw on reads', async () => {
    const { key } = await stack.addTenant({ submissions: 2, reads: 50, exports: 1 });
    const submitted = await post({ items: items(1) }, key);
    assert.equal(submitted.status, 202);
    assert.deepEqual([rateHeaders(submitted).limit, rateHeaders(submitted).remaining], [2, 1]);
    const { batch_id } = (await submitted.json()) as { batch_id: string };

    const read = await stack.api(`/v1/batches/${batch_id}`, { key });
    assert.deepEqual([rateHeaders(read).limit, rateHeaders(read).remaining], [50, 49]);
    const pause = await stack.api(`/v1/batches/${batch_id}/pause`, { method: 'POST', key });
    assert.equal(pause.status, 202);
    assert.deepEqual([rateHeaders(pause).limit, rateHeaders(pause).remaining], [50, 48]);

    const exported = await stack.api(`/v1/batches/${batch_id}/export?format=json`, { key });
    await exported.arrayBuffer();
    assert.deepEqual([rateHeaders(exported).limit, rateHeaders(exported).remaining], [1, 0]);
    const secondExport = await stack.api(`/v1/batches/${batch_id}/export?format=json`, { key });
    assertRetryAfter(secondExport, await expectError(secondExport, 429, 'rate_limited'));
    // Exports being used up leaves reads and submissions alone.
    assert.equal((await stack.api(`/v1/batches/${batch_id}`, { key })).status, 200);
    const again = await post({ items: items(1) }, key);
    assert.equal(again.status, 202);
    assert.equal(rateHeaders(again).remaining, 0);
    assertRetryAfter(...(await refusedWith(post({ items: items(1) }, key))));
  });

  test('error answers after authentication carry the headers too, on /v1 and on the compatibility routes', async () => {
    const { key } = await stack.addTenant({ reads: 10 });
    const missing = await stack.api('/v1/batches/b_missing', { key });
    await expectError(missing, 404, 'not_found');
    assert.equal(rateHeaders(missing).remaining, 9);
    const bad = await stack.api('/v1/batches?limit=0', { key });
    await expectError(bad, 400, 'validation_failed');
    assert.equal(rateHeaders(bad).remaining, 8);
    const compat = await stack.api('/api/batches', { key });
    assert.equal(rateHeaders(compat).remaining, 7);
    const job = await stack.api('/batch/jobs/none', { key });
    assert.equal(rateHeaders(job).remaining, 6);
  });

  test("two API processes over one database share each key's count", async () => {
    // A second app with its own connection pool (PostgreSQL) or the same embedded database (PGlite):
    // what two `npm run api` processes behind a load balancer would be.
    const url = (stack.db as { url?: string }).url;
    const second: Db = url ? await openDb({ url, poolSize: 2 }) : stack.db;
    const server: Server = createApp({
      db: second.db,
      client: stack.client,
      batches: stack.batches,
      log: pino({ level: 'silent' }),
      maxBodyBytes: 1024,
    }).listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    const otherUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const { key } = await stack.addTenant({ reads: 4 });
      const viaSecond = (): Promise<Response> => fetch(`${otherUrl}/v1/batches`, { headers: { 'x-api-key': key } });
      const remaining: number[] = [];
      for (const call of [() => stack.api('/v1/batches', { key }), viaSecond, () => stack.api('/v1/batches', { key }), viaSecond]) {
        const res = await call();
        assert.equal(res.status, 200);
        remaining.push(rateHeaders(res).remaining);
      }
      assert.deepEqual(remaining, [3, 2, 1, 0]);
      await expectError(await viaSecond(), 429, 'rate_limited');
      await expectError(await stack.api('/v1/batches', { key }), 429, 'rate_limited');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (second !== stack.db) await second.close();
    }
  });
});

async function refusedWith(pending: Promise<Response>): Promise<[Response, Awaited<ReturnType<typeof expectError>>]> {
  const res = await pending;
  return [res, await expectError(res, 429, 'rate_limited')];
}
