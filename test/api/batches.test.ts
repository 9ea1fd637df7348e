/** The HTTP API end to end, the way a client uses it, against a real stack. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { Client, Connection } from '@temporalio/client';
import { items, startStack, waitForBatch, type Stack } from '../helpers/stack';

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(() => stack.stop());

const post = (s: Stack, body: unknown, init: RequestInit & { key?: string | null } = {}) =>
  s.api('/v1/batches', { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), ...init });

interface ErrorBody {
  error: { code: string; message: string; details?: Array<{ path: string; issue: string }>; request_id: string };
}

async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  const body = (await res.json()) as ErrorBody;
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, 'string');
  assert.equal(body.error.request_id, res.headers.get('x-request-id'), 'the error names the request id it was sent with');
  return body;
}

describe('a 1,000-item batch', () => {
  let batchId: string;

  test('is accepted at once with links to poll, stream and inspect it', async () => {
    const res = await post(stack, { items: items(1000), chunk_size: 25 });
    assert.equal(res.status, 202);
    const body = (await res.json()) as Record<string, unknown>;
    batchId = body.batch_id as string;
    assert.match(batchId, /^b_[0-9A-Z]{26}$/);
    assert.equal(body.status, 'queued');
    assert.equal(body.total_items, 1000);
    assert.equal(body.poll_url, `/v1/batches/${batchId}`);
    assert.equal(body.events_url, `/v1/batches/${batchId}/events`);
    assert.equal(body.workflow_id, `batch-${batchId}`);
    assert.equal(body.temporal_ui_url, `http://localhost:8233/namespaces/${stack.namespace}/workflows/batch-${batchId}`);
    assert.ok(res.headers.get('x-request-id'));
  });

  test('completes, and its counts add up', async () => {
    const done = await waitForBatch(stack, batchId);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.counts, {
      pending: 0,
      classified: 1000,
      ingested: 1000,
      published: 1000,
      failed: 0,
      needs_review: 0,
      compensated: 0,
      cancelled: 0,
      orphaned: 0,
    });
    assert.equal(done.progress_percent, 100);
    assert.ok(done.completed_at && done.started_at);
  });

  test('pages through all 1,000 results with cursors', async () => {
    const refs = new Set<string>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await stack.api(`/v1/batches/${batchId}/items?limit=150${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.status, 200);
      const page = (await res.json()) as {
        items: Array<{ ref: string; status: string; published_id: string | null; classification: unknown }>;
        next_cursor: string | null;
      };
      for (const item of page.items) {
        assert.equal(item.status, 'succeeded');
        assert.ok(item.published_id);
        assert.ok(item.classification);
        refs.add(item.ref);
      }
      cursor = page.next_cursor;
      pages++;
    } while (cursor);
    assert.equal(refs.size, 1000);
    assert.equal(pages, 7);
  });

  test('is listed newest first, and a finished batch cannot be cancelled', async () => {
    const list = (await (await stack.api('/v1/batches?limit=5')).json()) as { batches: Array<{ batch_id: string }> };
    assert.equal(list.batches[0]!.batch_id, batchId);
    await expectError(await stack.api(`/v1/batches/${batchId}/cancel`, { method: 'POST', body: '{}' }), 409, 'conflict');
    await expectError(await stack.api(`/v1/batches/${batchId}`, { method: 'DELETE' }), 409, 'conflict');
  });

  test('its items are in the built-in catalog, once each, and only its tenant sees them', async () => {
    const refs: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await stack.api(`/v1/catalog?batch_id=${batchId}&limit=100${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.status, 200);
      const page = (await res.json()) as { items: Array<{ ref: string; batch_id: string }>; next_cursor: string | null };
      refs.push(...page.items.map((i) => i.ref));
      cursor = page.next_cursor;
    } while (cursor);
    assert.equal(refs.length, 1000);
    assert.equal(new Set(refs).size, 1000);
    const other = await stack.addTenant();
    const theirs = (await (await stack.api(`/v1/catalog?batch_id=${batchId}`, { key: other.key })).json()) as { items: unknown[] };
    assert.equal(theirs.items.length, 0);
  });

  test('is invisible to another tenant', async () => {
    const other = await stack.addTenant();
    await expectError(await stack.api(`/v1/batches/${batchId}`, { key: other.key }), 404, 'not_found');
    await expectError(await stack.api(`/v1/batches/${batchId}/items`, { key: other.key }), 404, 'not_found');
    await expectError(await stack.api(`/v1/batches/${batchId}/cancel`, { method: 'POST', key: other.key }), 404, 'not_found');
    const list = (await (await stack.api('/v1/batches', { key: other.key })).json()) as { batches: unknown[] };
    assert.equal(list.batches.length, 0);
  });
});

describe('bad input', () => {
  test('gets the contract 4xx and creates no batch row and no workflow', async () => {
    const { tenantId, key } = await stack.addTenant();
    const send = (body: unknown, init: RequestInit & { key?: string | null } = {}) => post(stack, body, { key, ...init });

    await expectError(await send('{"items": [', {}), 400, 'malformed_json');
    const wrongType = await expectError(await send({ items: 'nope' }), 400, 'validation_failed');
    assert.equal(wrongType.error.details![0]!.path, 'items');
    const tooMany = await expectError(await send({ items: items(50_001) }), 400, 'validation_failed');
    assert.equal(tooMany.error.details![0]!.path, 'items');
    const dup = await expectError(
      await send({
        items: [
          { ref: 'a', text: 'x' },
          { ref: 'a', text: 'y' },
          { ref: 'b', text: 'z' },
          { ref: 'b', text: 'z' },
        ],
      }),
      400,
      'validation_failed',
    );
    assert.deepEqual(
      dup.error.details!.map((d) => d.path),
      ['items.1.ref', 'items.3.ref'],
    );
    const unknown = await expectError(await send({ items: items(1), colour: 'red' }), 400, 'validation_failed');
    assert.deepEqual(unknown.error.details, [{ path: 'colour', issue: 'unknown field' }]);
    const many = await expectError(
      await send({ items: [{ text: 'no ref' }], chunk_size: 501, stages: ['publish', 'classify'] }),
      400,
      'validation_failed',
    );
    assert.deepEqual(many.error.details!.map((d) => d.path).sort(), ['chunk_size', 'items.0.ref', 'stages']);
    await expectError(await send({ items: items(1), items_text: 'a' }), 400, 'validation_failed');
    await expectError(await send({ items: items(1) }, { key: null }), 401, 'unauthorized');
    await expectError(await send({ items: items(1) }, { key: 'bf_not_a_key' }), 401, 'unauthorized');
    await expectError(await send('ref\na', { headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type');
    await expectError(await send({ items: items(1) }, { headers: { 'idempotency-key': 'bad key with spaces' } }), 400, 'validation_failed');

    // One good submission after all the bad ones: once Temporal's visibility shows it, any workflow
    // a bad request had started would show too.
    const good = (await (await send({ items: items(3) })).json()) as { batch_id: string };
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from batches where tenant_id = ${tenantId}`.execute(stack.db.db);
    assert.equal(rows[0]!.n, 1);
    const { rows: itemRows } = await sql<{
      n: number;
    }>`select count(*)::int as n from batch_items i join batches b on b.id = i.batch_id where b.tenant_id = ${tenantId}`.execute(
      stack.db.db,
    );
    assert.equal(itemRows[0]!.n, 3);
    let workflows = 0;
    for (let i = 0; i < 50 && workflows === 0; i++) {
      workflows = (await stack.client.workflow.count(`TenantId = "${tenantId}"`)).count;
      if (workflows === 0) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(workflows, 1);
    await waitForBatch(stack, good.batch_id, undefined, undefined, key);
  });

  test('over the byte limit is 413 and leaves nothing', async () => {
    const small = await startStack({ noWorker: true, maxBodyBytes: 2_000 });
    try {
      await expectError(await post(small, { items: items(100) }), 413, 'payload_too_large');
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from batches`.execute(small.db.db);
      assert.equal(rows[0]!.n, 0);
    } finally {
      await small.stop();
    }
  });

  test('unknown batches, routes and cursors answer in the error shape', async () => {
    await expectError(await stack.api('/v1/batches/b_nope'), 404, 'not_found');
    await expectError(await stack.api('/v1/batches?cursor=garbage'), 400, 'validation_failed');
    await expectError(await stack.api('/v1/batches?limit=0'), 400, 'validation_failed');
    await expectError(await stack.api('/v1/nothing-here'), 404, 'not_found');
  });
});

describe('idempotency', () => {
  test('the same key and body answer the same batch; another body is refused', async () => {
    const body = { items: items(5), chunk_size: 2 };
    const first = await post(stack, body, { headers: { 'idempotency-key': 'order-77' } });
    assert.equal(first.status, 202);
    const { batch_id } = (await first.json()) as { batch_id: string };
    const again = await post(stack, body, { headers: { 'idempotency-key': 'order-77' } });
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(((await again.json()) as { batch_id: string }).batch_id, batch_id);
    await expectError(
      await post(stack, { ...body, chunk_size: 3 }, { headers: { 'idempotency-key': 'order-77' } }),
      422,
      'idempotency_key_reused',
    );
    await waitForBatch(stack, batch_id);
  });
});

describe('auth and health', () => {
  test('a Bearer token works like X-Api-Key', async () => {
    const res = await stack.api('/v1/batches', { key: null, headers: { authorization: `Bearer ${stack.key}` } });
    assert.equal(res.status, 200);
  });

  test('healthz and readyz need no key and report both dependencies and the namespace', async () => {
    assert.equal((await fetch(`${stack.baseUrl}/healthz`)).status, 200);
    const ready = await fetch(`${stack.baseUrl}/readyz`);
    assert.equal(ready.status, 200);
    const body = (await ready.json()) as { checks: unknown; namespace: unknown };
    assert.deepEqual(body.checks, { database: 'ok', temporal: 'ok' });
    assert.equal(body.namespace, stack.namespace);
  });
});

describe('when Temporal is unreachable', () => {
  test('a submission answers 503 and leaves no rows', async () => {
    const dead = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 500 }) });
    const down = await startStack({ noWorker: true, temporalClient: dead });
    try {
      const res = await post(down, { items: items(10) });
      await expectError(res, 503, 'unavailable');
      assert.ok(res.headers.get('retry-after'));
      const { rows } = await sql<{
        n: number;
      }>`select (select count(*) from batches)::int + (select count(*) from batch_items)::int as n`.execute(down.db.db);
      assert.equal(rows[0]!.n, 0);
      const ready = await fetch(`${down.baseUrl}/readyz`);
      assert.equal(ready.status, 503);
    } finally {
      await down.stop();
    }
  });
});
