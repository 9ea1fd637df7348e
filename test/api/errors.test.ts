/**
 * The contract's error table (docs/api.md "Errors"), one test a row: status, code, details,
 * Retry-After where the row asks for it, and X-Request-Id on every answer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { revokeKey } from '../../src/db/keys';
import { assertRetryAfter, expectError } from '../helpers/errors';
import { items, SHIPPED, startStack, waitForBatch, type Stack } from '../helpers/stack';

/** Small enough that a 413 needs only a modest body; every other request here is far below it. */
const MAX_BODY = 64 * 1024;

let stack: Stack;
before(async () => {
  stack = await startStack({ maxBodyBytes: MAX_BODY });
});
after(() => stack.stop());

const json = (body: unknown) => ({ method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });

async function batchRows(s: Stack, tenantId: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from batches where tenant_id = ${tenantId}`.execute(s.db.db);
  return rows[0]!.n;
}

describe('the error table', () => {
  test('400 validation_failed lists every failing path, in the body and in the query', async () => {
    const { tenantId, key } = await stack.addTenant();
    const res = await stack.api('/v1/batches', {
      key,
      ...json({
        items: [
          { text: 'no ref' },
          { ref: 'x'.repeat(201), text: 'too long a ref' },
          { ref: 'c', text: 'fine' },
          { ref: 'c', text: 'duplicate' },
        ],
        chunk_size: 501,
        stages: ['publish', 'classify'],
        priority: 'urgent',
        max_failure_ratio: 2,
        colour: 'red',
      }),
    });
    const body = await expectError(res, 400, 'validation_failed');
    const paths = body.error.details!.map((d) => d.path).sort();
    assert.deepEqual(paths, ['chunk_size', 'colour', 'items.0.ref', 'items.1.ref', 'max_failure_ratio', 'priority', 'stages']);
    for (const d of body.error.details!) assert.ok(d.issue.length > 0, `${d.path} says what is wrong`);
    assert.equal(body.error.message.split(':')[0], body.error.details![0]!.path, 'the message names the first failing path');

    // Duplicates are found once the shape is right, and each one is named.
    const dup = await expectError(
      await stack.api('/v1/batches', {
        key,
        ...json({
          items: [
            { ref: 'a', text: 'x' },
            { ref: 'a', text: 'y' },
            { ref: 'b', text: 'z' },
            { ref: 'b', text: 'w' },
          ],
        }),
      }),
      400,
      'validation_failed',
    );
    assert.deepEqual(
      dup.error.details!.map((d) => d.path),
      ['items.1.ref', 'items.3.ref'],
    );

    const query = await expectError(await stack.api('/v1/batches?limit=0&status=bogus', { key }), 400, 'validation_failed');
    assert.deepEqual(query.error.details!.map((d) => d.path).sort(), ['limit', 'status']);
    assert.equal(await batchRows(stack, tenantId), 0);
  });

  test('400 malformed_json when the body is not JSON', async () => {
    const body = await expectError(await stack.api('/v1/batches', json('{"items": [')), 400, 'malformed_json');
    assert.equal(body.error.details, undefined);
  });

  test('401 unauthorized for a missing, an unknown and a revoked key, on /v1 and the compatibility prefixes', async () => {
    const { keyId, key } = await stack.addTenant();
    assert.equal((await stack.api('/v1/batches', { key })).status, 200, 'the key works before it is revoked');
    assert.ok(await revokeKey(stack.db.db, keyId));
    // The API remembers a key it found for API_KEY_CACHE_SECONDS: the revocation shows once that has passed.
    await sleep(SHIPPED.keyCacheMs);

    const answers = [
      await stack.api('/v1/batches', { key: null }),
      await stack.api('/v1/batches', { key: 'bf_not_a_key_at_all' }),
      await stack.api('/v1/batches', { key: null, headers: { authorization: 'Bearer bf_not_a_key_at_all' } }),
      await stack.api('/v1/batches', { key }),
      await stack.api('/v1/batches', { key: null, headers: { authorization: `Bearer ${key}` } }),
      await stack.api('/api/batches', { key: null }),
      await stack.api('/api/v1/classify/bulk', { key: null, ...json({ products: [] }) }),
      await stack.api('/batch/jobs', { key: null, ...json({ documents: [] }) }),
      await stack.api('/batch/jobs/anything', { key }),
    ];
    for (const res of answers) {
      const body = await expectError(res, 401, 'unauthorized');
      assert.equal(body.error.details, undefined);
      assert.equal(res.headers.get('x-ratelimit-limit'), null, 'no rate-limit headers before a key is known');
    }
    // Health and docs stay open.
    assert.equal((await fetch(`${stack.baseUrl}/healthz`)).status, 200);
  });

  describe('with a batch', () => {
    let batchId: string;
    before(async () => {
      const res = await stack.api('/v1/batches', json({ items: items(3) }));
      assert.equal(res.status, 202);
      batchId = ((await res.json()) as { batch_id: string }).batch_id;
      await waitForBatch(stack, batchId);
    });

    test("404 not_found for an unknown batch, and for another tenant's", async () => {
      await expectError(await stack.api('/v1/batches/b_00000000000000000000000000'), 404, 'not_found');
      const other = await stack.addTenant();
      for (const path of [`/v1/batches/${batchId}`, `/v1/batches/${batchId}/items`]) {
        const body = await expectError(await stack.api(path, { key: other.key }), 404, 'not_found');
        assert.equal(body.error.details, undefined);
      }
      await expectError(await stack.api(`/v1/batches/${batchId}/cancel`, { key: other.key, ...json({}) }), 404, 'not_found');
      // The owner still sees it: the 404 was about the tenant, not the batch.
      assert.equal((await stack.api(`/v1/batches/${batchId}`)).status, 200);
    });

    test('409 conflict when cancelling a finished batch', async () => {
      const body = await expectError(await stack.api(`/v1/batches/${batchId}/cancel`, json({ rollback: false })), 409, 'conflict');
      assert.match(body.error.message, /completed/);
      await expectError(await stack.api(`/v1/batches/${batchId}`, { method: 'DELETE' }), 409, 'conflict');
    });
  });

  test('413 payload_too_large over the byte limit, and nothing is created', async () => {
    const { tenantId, key } = await stack.addTenant();
    const big = JSON.stringify({ items: items(2_000, () => 'a fairly long product description') });
    assert.ok(big.length > MAX_BODY);
    const body = await expectError(await stack.api('/v1/batches', { key, ...json(big) }), 413, 'payload_too_large');
    assert.match(body.error.message, new RegExp(String(MAX_BODY)));
    assert.equal(await batchRows(stack, tenantId), 0);
  });

  test('415 unsupported_media_type when JSON is required and something else is sent', async () => {
    const res = await stack.api('/v1/batches/b_any/cancel', {
      method: 'POST',
      body: 'rollback=true',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const body = await expectError(res, 415, 'unsupported_media_type');
    assert.match(body.error.message, /application\/json/);
  });

  test('422 idempotency_key_reused for the same Idempotency-Key with another body', async () => {
    const { tenantId, key } = await stack.addTenant();
    const headers = { 'idempotency-key': 'errors-table-422' };
    const first = await stack.api('/v1/batches', { key, headers, ...json({ items: items(2) }) });
    assert.equal(first.status, 202);
    const body = await expectError(
      await stack.api('/v1/batches', { key, headers, ...json({ items: items(3) }) }),
      422,
      'idempotency_key_reused',
    );
    assert.equal(body.error.details, undefined);
    assert.equal(await batchRows(stack, tenantId), 1);
    await waitForBatch(stack, ((await first.json()) as { batch_id: string }).batch_id, undefined, undefined, key);
  });

  test("429 rate_limited once the key's bucket is used up, with Retry-After and retry_after", async () => {
    const { key } = await stack.addTenant({ reads: 2 });
    for (let i = 0; i < 2; i++) assert.equal((await stack.api('/v1/batches', { key })).status, 200);
    const res = await stack.api('/v1/batches', { key });
    const body = await expectError(res, 429, 'rate_limited');
    const wait = assertRetryAfter(res, body);
    assert.ok(wait <= 3_600, 'no longer than the hour window');
    assert.equal(res.headers.get('x-ratelimit-remaining'), '0');
    assert.equal(res.headers.get('x-ratelimit-limit'), '2');
  });

  test('429 too_many_active_batches over max_active_batches, with Retry-After and retry_after; the refused one leaves nothing', async () => {
    // No worker: accepted batches stay queued, so they hold their slots for the whole test.
    const idle = await startStack({ noWorker: true });
    try {
      const { tenantId, key } = await idle.addTenant({ max_active_batches: 1 });
      assert.equal((await idle.api('/v1/batches', { key, ...json({ items: items(1) }) })).status, 202);
      const res = await idle.api('/v1/batches', { key, ...json({ items: items(1) }) });
      const body = await expectError(res, 429, 'too_many_active_batches');
      assertRetryAfter(res, body);
      assert.match(body.error.message, /at most 1 /);
      assert.equal(await batchRows(idle, tenantId), 1);
    } finally {
      await idle.stop();
    }
  });

  test('503 unavailable when Temporal is unreachable; no row is left', async () => {
    const dead = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 500 }) });
    const down = await startStack({ noWorker: true, temporalClient: dead });
    try {
      const res = await down.api('/v1/batches', json({ items: items(10) }));
      const body = await expectError(res, 503, 'unavailable');
      assertRetryAfter(res, body);
      assert.match(body.error.message, /Temporal/);
      const { rows } = await sql<{
        n: number;
      }>`select (select count(*) from batches)::int + (select count(*) from batch_items)::int as n`.execute(down.db.db);
      assert.equal(rows[0]!.n, 0);
    } finally {
      await down.stop();
    }
  });

  test("a caller's X-Request-Id is echoed in the header and the error body", async () => {
    const res = await stack.api('/v1/batches/b_unknown', { headers: { 'x-request-id': 'client-trace-42' } });
    const body = await expectError(res, 404, 'not_found');
    assert.equal(body.error.request_id, 'client-trace-42');
  });
});
