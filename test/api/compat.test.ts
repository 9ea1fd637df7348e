/**
 * The compatibility routes end to end, the way each original design's clients call them: their
 * example requests, sent as literal JSON, followed until the batch they became has finished.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { putKey } from '../../src/db/keys';
import { batchIdOf, tenantUuid } from '../../src/batches/ids';
import type { FallbackAnswer } from '../../activities/stages/classify/fallback';
import { eventually } from '../helpers/api';
import { startPublishTarget, type PublishTarget } from '../helpers/publish-target';
import { startStack, type Stack } from '../helpers/stack';

let stack: Stack;
let target: PublishTarget;
let other: { tenantId: string; key: string };
/** Receives completion webhooks, so callback_url in the examples points somewhere real. */
let hooks: http.Server;
let hookUrl: string;

/** The classify fallback tier: refuses discontinued products, otherwise agrees with the core's best candidate. */
const fallback = async (text: string, candidates: Array<{ label: string }>): Promise<FallbackAnswer> =>
  /discontinued/i.test(text)
    ? { ok: false, retryable: false, message: 'product is discontinued' }
    : { ok: true, label: candidates[0]!.label, confidence: 0.9 };

before(async () => {
  target = await startPublishTarget({ rejectRefs: new Set(['leather-boots-38']) });
  stack = await startStack({ publishUrl: target.url, classify: { fallback }, allowPrivateCallbacks: true });
  // This file submits a few dozen batches and keeps several open at once: lift the key's limits.
  await putKey(stack.db.db, `key_${stack.tenantId}`, stack.tenantId, stack.key, 'test', {
    submissions: 1_000,
    reads: 100_000,
    max_active_batches: 100,
  });
  other = await stack.addTenant();
  hooks = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}`;
});
after(async () => {
  await stack.stop();
  await target.close();
  hooks.closeAllConnections();
  await new Promise<void>((resolve) => hooks.close(() => resolve()));
});

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const send = async (
  path: string,
  method: string,
  body?: unknown,
  init: { key?: string | null; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Json; headers: Headers }> => {
  const res = await stack.api(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }), ...init });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {}, headers: res.headers };
};

function assertError(r: { status: number; body: Json; headers: Headers }, status: number, code: string): Json {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.error.code, code);
  assert.equal(typeof r.body.error.message, 'string');
  assert.equal(r.body.error.request_id, r.headers.get('x-request-id'));
  return r.body.error as Json;
}

/** Polls a compat GET until `done` holds for its body. */
const pollUntil = (path: string, done: (b: Json) => boolean, timeoutMs = 120_000): Promise<Json> =>
  eventually(
    `${path} to finish`,
    async () => {
      const r = await send(path, 'GET');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return done(r.body) ? r.body : undefined;
    },
    timeoutMs,
  );

/** The batch behind a compat id (a job's UUID or a batch id), as /v1 reports it: proves what the adapter submitted. */
const v1Batch = async (id: string): Promise<Json> => (await send(`/v1/batches/${batchIdOf(id)}`, 'GET')).body;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const pause = async (id: string): Promise<void> => assert.equal((await send(`/v1/batches/${id}/pause`, 'POST')).status, 202);

// ---------------------------------------------------------------------------------------------

describe('classify design: POST /api/v1/classify/bulk, GET /api/v1/jobs/{job_id}', () => {
  let jobId: string;

  test('the example request becomes a classify-only batch, answered with a job to poll', async () => {
    const r = await send('/api/v1/classify/bulk', 'POST', {
      products: [
        {
          product_id: 'SKU-1001',
          description: "Men's cotton t-shirt, crew neck",
          origin_country: 'CN',
          image_url: 'https://cdn.example.com/img/sku-1001.jpg',
        },
        { product_id: 'SKU-1002', description: "Women's leather ankle boots", origin_country: 'IT' },
        { product_id: 'SKU-1003', description: 'Discontinued item, no longer sold', origin_country: 'MX' },
      ],
      callback_url: `${hookUrl}/hooks/classify`,
      priority: 'high',
      corridor: 'MX_US',
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.deepEqual(Object.keys(r.body).sort(), ['estimated_seconds', 'job_id', 'poll_url', 'status']);
    jobId = r.body.job_id as string;
    assert.match(jobId, UUID, 'the job id is a UUID (v7)');
    assert.equal(r.body.status, 'queued');
    assert.equal(r.body.poll_url, `/api/v1/jobs/${jobId}`);
    assert.ok(Number.isInteger(r.body.estimated_seconds) && r.body.estimated_seconds >= 1);

    const batch = await v1Batch(jobId);
    assert.deepEqual(batch.options.stages, ['classify']);
    assert.equal(batch.priority, 'express', '"high" runs as an express batch');
    assert.equal(batch.options.callback_url, `${hookUrl}/hooks/classify`);
    assert.deepEqual(batch.metadata, { corridor: 'MX_US' });
    assert.equal(batch.total_items, 3);
    const rows = await stack.db.db
      .selectFrom('batch_items')
      .select(['ref', 'text', 'attributes'])
      .where('batch_id', '=', batchIdOf(jobId)!)
      .orderBy('seq')
      .execute();
    assert.deepEqual(rows[0], {
      ref: 'SKU-1001',
      text: "Men's cotton t-shirt, crew neck",
      attributes: { origin_country: 'CN', image_url: 'https://cdn.example.com/img/sku-1001.jpg' },
    });
    assert.deepEqual(rows[1]!.attributes, { origin_country: 'IT' });
  });

  test('polling the job reports each product, and partial when one failed', async () => {
    const job = await pollUntil(`/api/v1/jobs/${jobId}`, (b) => !['queued', 'processing'].includes(b.status as string));
    assert.equal(job.job_id, jobId);
    assert.equal(job.status, 'partial');
    assert.equal(job.total_products, 3);
    assert.equal(job.processed_products, 3);
    assert.equal(job.failed_products, 1);
    assert.equal(job.progress_percent, 100);
    assert.equal(job.corridor, 'MX_US');
    assert.ok(job.completed_at);
    assert.equal(job.more_results_url, null);
    const byId = new Map((job.results as Json[]).map((p) => [p.product_id, p]));
    assert.deepEqual([...byId.keys()].sort(), ['SKU-1001', 'SKU-1002', 'SKU-1003']);
    for (const id of ['SKU-1001', 'SKU-1002']) {
      const p = byId.get(id)!;
      assert.equal(p.status, 'classified');
      assert.match(p.hs_code as string, /^\d{4}$/);
      assert.ok(p.confidence > 0 && p.confidence <= 1);
      assert.equal(p.tier, 'core');
      assert.equal(p.error, null);
    }
    assert.equal(byId.get('SKU-1001')!.hs_code, '6109');
    const failed = byId.get('SKU-1003')!;
    assert.equal(failed.status, 'failed');
    assert.deepEqual(failed.error, { code: 'fallback_rejected', message: 'product is discontinued' });
    assert.equal((await v1Batch(jobId)).status, 'partial', 'the batch itself ended partial');
  });

  test('a job whose products all classify is completed', async () => {
    const r = await send('/api/v1/classify/bulk', 'POST', {
      products: [{ product_id: 'SKU-2001', description: 'Laptop computer, 14 inch, 16GB RAM', origin_country: 'TW' }],
      priority: 'normal',
    });
    assert.equal(r.status, 202);
    assert.equal((await v1Batch(r.body.job_id as string)).priority, 'normal');
    const job = await pollUntil(r.body.poll_url as string, (b) => !['queued', 'processing'].includes(b.status as string));
    assert.equal(job.status, 'completed');
    assert.equal(job.corridor, null);
    assert.equal(job.results[0].status, 'classified');
    assert.equal(job.results[0].hs_code, '8471');
  });

  test('501 products are refused whole, and so are duplicate product ids, in the design’s field names', async () => {
    const products = Array.from({ length: 501 }, (_, i) => ({ product_id: `SKU-${i}`, description: 'wooden dining chair' }));
    const tooMany = assertError(await send('/api/v1/classify/bulk', 'POST', { products }), 400, 'validation_failed');
    assert.equal(tooMany.details[0].path, 'products');
    const ok500 = await send('/api/v1/classify/bulk', 'POST', { products: products.slice(0, 500) });
    assert.equal(ok500.status, 202, 'exactly 500 is accepted');

    const dup = assertError(
      await send('/api/v1/classify/bulk', 'POST', {
        products: [
          { product_id: 'A', description: 'chair' },
          { product_id: 'A', description: 'table' },
        ],
      }),
      400,
      'validation_failed',
    );
    assert.equal(dup.details[0].path, 'products.1.product_id');
    const missing = assertError(await send('/api/v1/classify/bulk', 'POST', { products: [{ product_id: 'A' }] }), 400, 'validation_failed');
    assert.deepEqual(missing.details, [{ path: 'products.0.description', issue: 'required' }]);
  });
});

// ---------------------------------------------------------------------------------------------

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** Reads an SSE response to its end: every event's id, name and JSON data. */
async function readEvents(res: Response, timeoutMs = 120_000): Promise<Array<{ id?: string; event: string; data: Json }>> {
  const timer = setTimeout(() => void res.body?.cancel(), timeoutMs);
  const text = await res.text();
  clearTimeout(timer);
  const events: Array<{ id?: string; event: string; data: Json }> = [];
  for (const block of text.split(/\n\n/)) {
    const lines = block.split('\n');
    const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart());
    if (data.length === 0) continue;
    const id = lines
      .find((l) => l.startsWith('id:'))
      ?.slice(3)
      .trim();
    const event =
      lines
        .find((l) => l.startsWith('event:'))
        ?.slice(6)
        .trim() ?? 'message';
    events.push({ id, event, data: JSON.parse(data.join('\n')) as Json });
  }
  return events;
}

/** The design's BatchJob (shared/seeds/001, Step 3), field for field. */
const BATCH_JOB_KEYS = [
  'collection',
  'created_at',
  'failed_count',
  'job_id',
  'priority',
  'processed_count',
  'status',
  'tenant_id',
  'total_documents',
  'updated_at',
];

/** The design's FastAPI error: `detail` beside the contract's `error`. */
function assertDetail(r: { status: number; body: Json; headers: Headers }, status: number, detail: string): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.detail, detail);
  assert.equal(r.body.error.message, detail);
}

describe('document design: /batch/jobs', () => {
  let jobId: string;

  test('the example request becomes an ingest-only batch, answered with a BatchJob', async () => {
    const r = await send('/batch/jobs', 'POST', {
      tenant_id: tenantUuid(stack.tenantId),
      documents: [
        {
          filename: 'invoice-2024-001.pdf',
          content: b64('%PDF-1.4 invoice 2024-001'),
          metadata: { content_type: 'application/pdf', customer: 'ACME' },
        },
        { filename: 'packing-list-17.txt', content: b64('12 cartons, 340 kg'), metadata: { source: 'email' } },
      ],
      collection: 'invoices',
      priority: 8,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(Object.keys(r.body).sort(), BATCH_JOB_KEYS);
    jobId = r.body.job_id as string;
    assert.match(jobId, UUID);
    assert.equal(r.headers.get('location'), `/batch/jobs/${jobId}`);
    assert.equal(r.body.tenant_id, tenantUuid(stack.tenantId));
    assert.equal(r.body.collection, 'invoices');
    assert.equal(r.body.status, 'pending');
    assert.equal(r.body.priority, 8);
    assert.equal(r.body.total_documents, 2);
    assert.equal(r.body.processed_count, 0);
    assert.equal(r.body.failed_count, 0);

    const batch = await v1Batch(jobId);
    assert.deepEqual(batch.options.stages, ['ingest']);
    assert.equal(batch.priority, 'express', 'priority 8 runs as an express batch');
    assert.deepEqual(batch.metadata, { collection: 'invoices', job_priority: 8 });
    const rows = await stack.db.db
      .selectFrom('batch_items')
      .select(['ref', 'content_b64', 'content_type', 'attributes'])
      .where('batch_id', '=', batchIdOf(jobId)!)
      .orderBy('seq')
      .execute();
    assert.deepEqual(rows[0], {
      ref: 'invoice-2024-001.pdf',
      content_b64: b64('%PDF-1.4 invoice 2024-001'),
      content_type: 'application/pdf',
      attributes: { content_type: 'application/pdf', customer: 'ACME' },
    });
    assert.equal(rows[1]!.content_type, null);
  });

  test('the stream sends start, a progress event per document and complete, then {"status"} and closes', async () => {
    const res = await stack.api(`/batch/jobs/${jobId}/stream`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = await readEvents(res);
    assert.deepEqual(
      events.map((e) => `${e.event}:${e.data.event_type ?? e.data.status}`),
      ['progress:start', 'progress:progress', 'progress:progress', 'progress:complete', 'complete:completed'],
    );
    for (const e of events.slice(0, -1)) {
      assert.ok(e.id, 'every event has an id');
      assert.deepEqual(Object.keys(e.data).sort(), ['document_index', 'event_type', 'filename', 'job_id', 'message', 'timestamp']);
      assert.equal(e.data.job_id, jobId);
    }
    assert.deepEqual(
      events.slice(1, 3).map((e) => [e.data.document_index, e.data.filename]),
      [
        [0, 'invoice-2024-001.pdf'],
        [1, 'packing-list-17.txt'],
      ],
    );
    assert.equal(events[3]!.data.message, 'completed');
    assert.deepEqual(events[4]!.data, { status: 'completed' });
  });

  test('a reconnect resumes after the last event it saw; after the end it is told to stop', async () => {
    const first = await readEvents(await stack.api(`/batch/jobs/${jobId}/stream`));
    const resumed = await readEvents(await stack.api(`/batch/jobs/${jobId}/stream`, { headers: { 'Last-Event-ID': first[1]!.id! } }));
    assert.deepEqual(
      resumed.map((e) => e.data.event_type ?? e.data.status),
      ['progress', 'complete', 'completed'],
      'no start, and the first document is not repeated',
    );
    // An EventSource reconnects after every close: past the end it is told to stop (204).
    const again = await stack.api(`/batch/jobs/${jobId}/stream`, { headers: { 'Last-Event-ID': first[first.length - 1]!.id! } });
    assert.equal(again.status, 204);
  });

  test('GET reports the finished job; DELETE of a finished job is the design’s 404', async () => {
    const body = await pollUntil(`/batch/jobs/${jobId}`, (b) => b.status === 'completed');
    assert.deepEqual(Object.keys(body).sort(), BATCH_JOB_KEYS);
    assert.equal(body.processed_count, 2);
    assert.equal(body.updated_at, (await v1Batch(jobId)).completed_at);
    assertDetail(await send(`/batch/jobs/${jobId}`, 'DELETE'), 404, 'Job not found or not cancellable');
    assertDetail(await send('/batch/jobs/0190a8f2-0000-7000-8000-000000000000', 'GET'), 404, 'Job not found');
  });

  test('DELETE cancels another job, and its stream ends with cancel and {"status": "cancelled"}', async () => {
    // More chunks than the default window (16 at the shipped slots): some are still to start when it pauses.
    const documents = Array.from({ length: 3_000 }, (_, i) => ({ filename: `scan-${i}.txt`, content: b64(`page ${i}`) }));
    const created = await send('/batch/jobs', 'POST', { tenant_id: stack.tenantId, documents, collection: 'scans', priority: 3 });
    assert.equal(created.status, 200);
    const id = created.body.job_id as string;
    assert.equal((await v1Batch(id)).priority, 'normal', 'priority 3 runs as a normal batch');
    // Paused, so that it is still running when the DELETE arrives however fast the worker is.
    await pause(batchIdOf(id)!);
    const stream = stack.api(`/batch/jobs/${id}/stream`);
    const cancelled = await send(`/batch/jobs/${id}`, 'DELETE');
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    assert.deepEqual(cancelled.body, { status: 'cancelled' });
    const events = await readEvents(await stream);
    assert.deepEqual(
      events.slice(-2).map((e) => e.data.event_type ?? e.data.status),
      ['cancel', 'cancelled'],
    );
    assert.equal(events[events.length - 1]!.event, 'complete');
    const done = await pollUntil(`/batch/jobs/${id}`, (b) => b.status === 'cancelled');
    assert.equal(done.job_id, id);
    assert.equal((await v1Batch(id)).status, 'cancelled');
  });

  test('another tenant_id is the design’s 404; a default priority and no collection are fine', async () => {
    assertDetail(
      await send('/batch/jobs', 'POST', { tenant_id: tenantUuid(other.tenantId), documents: [{ filename: 'a.txt', content: b64('a') }] }),
      404,
      'Tenant not found',
    );
    assertDetail(
      await send('/batch/jobs', 'POST', { tenant_id: other.tenantId, documents: [{ filename: 'a.txt', content: b64('a') }] }),
      404,
      'Tenant not found',
    );
    const bad = assertError(
      await send('/batch/jobs', 'POST', { documents: [{ filename: 'a.txt', content: 'not base64!' }], priority: 11 }),
      400,
      'validation_failed',
    );
    assert.deepEqual(bad.details.map((d: Json) => d.path).sort(), ['documents.0.content', 'priority']);
    const ok = await send('/batch/jobs', 'POST', {
      documents: [{ filename: 'a.txt', content: b64('a') }],
      collection: null,
      priority: null,
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.priority, 5);
    assert.equal(ok.body.collection, null);
    assert.equal((await pollUntil(`/batch/jobs/${ok.body.job_id}`, (b) => b.status === 'completed')).processed_count, 1);
    // The design's app mounts the same routes under /api/v1 as well.
    assert.equal((await send(`/api/v1/batch/jobs/${ok.body.job_id}`, 'GET')).body.job_id, ok.body.job_id);
  });
});

// ---------------------------------------------------------------------------------------------

describe('part-number design: /api/bulk-search, /api/bulk-publish, /api/batches', () => {
  let searchId: string;
  let publishId: string;
  const finished = (b: Json): boolean => ['completed', 'failed', 'cancelled'].includes(b.status as string);

  test('bulk-search with part_numbers classifies each part number, trimmed and in upper case', async () => {
    const r = await send('/api/bulk-search', 'POST', {
      part_numbers: ['chair-oak-4471', 'laptop-X1-DISCONTINUED', ' PN-4711 '],
      idempotency_key: 'search-2024-06-01-a',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(Object.keys(r.body).sort(), ['batch_id', 'idempotency_key', 'message', 'status', 'total_items']);
    searchId = r.body.batch_id as string;
    assert.equal(r.body.total_items, 3);
    assert.equal(r.body.status, 'processing');
    assert.equal(r.body.idempotency_key, 'search-2024-06-01-a');
    assert.equal(r.body.message, 'Bulk search started. Processing 3 part numbers.');
    const batch = await v1Batch(searchId);
    assert.deepEqual(batch.options.stages, ['classify']);

    const done = await pollUntil(`/api/batches/${searchId}`, finished);
    assert.equal(done.batch_type, 'search');
    assert.equal(done.status, 'completed', 'the design completes a batch whose items are all done or failed');
    assert.equal(done.progress_percent, 100);
    // Classified (one of them left for a person to review) or failed: every part number is accounted for.
    assert.equal(done.normalized_count, 2);
    assert.equal(done.extracted_count, 2);
    assert.equal(done.failed_count, 1);
    assert.equal(done.idempotency_key, 'search-2024-06-01-a');
    assert.equal((await v1Batch(searchId)).counts.needs_review, 1, 'an unknown part number goes to review');
    assert.deepEqual(done.failed_items, [
      { part_number: 'LAPTOP-X1-DISCONTINUED', error: 'fallback_rejected: product is discontinued', timestamp: null },
    ]);
    const refs = await stack.db.db.selectFrom('batch_items').select('ref').where('batch_id', '=', searchId).orderBy('seq').execute();
    assert.deepEqual(
      refs.map((x) => x.ref),
      ['CHAIR-OAK-4471', 'LAPTOP-X1-DISCONTINUED', 'PN-4711'],
    );
  });

  test('the same idempotency_key answers the batch it made, whatever the body and route, as the design does', async () => {
    const again = await send('/api/bulk-search', 'POST', {
      part_numbers: ['chair-oak-4471', 'laptop-X1-DISCONTINUED', 'PN-4711'],
      idempotency_key: 'search-2024-06-01-a',
    });
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.batch_id, searchId);
    assert.equal(again.body.status, 'completed', 'a replay reports where the batch is now');
    assert.equal(again.body.message, 'Returning existing batch (idempotent request)');
    for (const [route, body] of [
      ['/api/bulk-search', { part_numbers: ['other'], idempotency_key: 'search-2024-06-01-a' }],
      ['/api/bulk-publish', { part_numbers: ['chair-oak-4471'], idempotency_key: 'search-2024-06-01-a' }],
    ] as const) {
      const r = await send(route, 'POST', body);
      assert.equal(r.status, 200);
      assert.equal(r.body.batch_id, searchId, route);
    }
    // The header works as on /v1, and must agree with the body's key.
    const header = await send(
      '/api/bulk-search',
      'POST',
      { part_numbers: ['x'] },
      { headers: { 'Idempotency-Key': 'search-2024-06-01-a' } },
    );
    assert.equal(header.body.batch_id, searchId);
    const clash = assertError(
      await send('/api/bulk-search', 'POST', { part_numbers: ['x'], idempotency_key: 'k1' }, { headers: { 'Idempotency-Key': 'k2' } }),
      400,
      'validation_failed',
    );
    assert.equal(clash.details[0].path, 'idempotency_key');
  });

  test('bulk-publish with part_numbers_text publishes each part number', async () => {
    const r = await send('/api/bulk-publish', 'POST', {
      part_numbers_text: 'chair-oak-4471\nleather-boots-38, tshirt-cotton-M-0042;wooden chair 4471\t',
      idempotency_key: 'publish-2024-06-01-a',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    publishId = r.body.batch_id as string;
    assert.equal(r.body.total_items, 4);
    assert.equal(r.body.message, 'Bulk publish started. Publishing 4 products.');
    assert.deepEqual((await v1Batch(publishId)).options.stages, ['publish']);

    const done = await pollUntil(`/api/batches/${publishId}`, finished);
    assert.equal(done.batch_type, 'publish');
    assert.equal(done.status, 'completed');
    assert.equal(done.published_count, 3);
    assert.equal(done.failed_items.length, 1);
    assert.equal(done.failed_items[0].part_number, 'leather-boots-38');
    assert.match(done.failed_items[0].error, /^\w+: /);
    assert.deepEqual([...target.countByRef().keys()].sort(), ['chair-oak-4471', 'tshirt-cotton-M-0042', 'wooden chair 4471']);
  });

  test('part numbers are checked as the design checks them, in its field names', async () => {
    const both = assertError(
      await send('/api/bulk-search', 'POST', { part_numbers: ['a'], part_numbers_text: 'a' }),
      400,
      'validation_failed',
    );
    assert.equal(both.details[0].path, 'part_numbers_text');
    const nulls = await send('/api/bulk-search', 'POST', { part_numbers: ['null-rule-1'], part_numbers_text: null, idempotency_key: null });
    assert.equal(nulls.status, 200, 'null means the field left out');
    assert.equal(nulls.body.idempotency_key, null);
    await pollUntil(`/api/batches/${nulls.body.batch_id}`, finished);
    const none = assertError(await send('/api/bulk-search', 'POST', {}), 400, 'validation_failed');
    assert.equal(none.details[0].issue, "Either 'part_numbers' or 'part_numbers_text' is required");
    const empty = assertError(await send('/api/bulk-search', 'POST', { part_numbers_text: ' ,;\n' }), 400, 'validation_failed');
    assert.equal(empty.details[0].issue, 'No valid part numbers found in text');
    const long = assertError(await send('/api/bulk-search', 'POST', { part_numbers: ['ok', 'x'.repeat(51)] }), 400, 'validation_failed');
    assert.equal(long.details[0].path, 'part_numbers.1');
    const tooMany = assertError(
      await send('/api/bulk-publish', 'POST', { part_numbers_text: Array.from({ length: 10_001 }, (_, i) => `P${i}`).join(',') }),
      400,
      'validation_failed',
    );
    assert.equal(tooMany.details[0].issue, 'Maximum 10000 part numbers allowed');
    const dup = assertError(await send('/api/bulk-search', 'POST', { part_numbers_text: 'A-1,B-2,A-1' }), 400, 'validation_failed');
    assert.equal(dup.details[0].path, 'part_numbers.2');
    const dupList = assertError(await send('/api/bulk-publish', 'POST', { part_numbers: ['A-1', 'A-1'] }), 400, 'validation_failed');
    assert.equal(dupList.details[0].path, 'part_numbers.1');
    // FastAPI's `detail` for a failed validation: one entry per failing path.
    const raw = await send('/api/bulk-publish', 'POST', { part_numbers: ['A-1', 'A-1'] });
    assert.deepEqual(raw.body.detail, [{ loc: ['body', 'part_numbers', 1], msg: dupList.details[0].issue, type: 'value_error' }]);
  });

  test('DELETE cancels a running batch; a finished one is the design’s 400', async () => {
    // More chunks than the default window (16 at the shipped slots): some are still to start when it pauses.
    const r = await send('/api/bulk-search', 'POST', { part_numbers_text: Array.from({ length: 3_000 }, (_, i) => `PN-${i}`).join('\n') });
    assert.equal(r.status, 200);
    const id = r.body.batch_id as string;
    await pause(id);
    const cancelled = await send(`/api/batches/${id}`, 'DELETE');
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    assert.deepEqual(cancelled.body, { message: 'Batch cancellation initiated', batch_id: id });
    await pollUntil(`/api/batches/${id}`, (b) => b.status === 'cancelled');
    assertDetail(await send(`/api/batches/${id}`, 'DELETE'), 400, 'Cannot cancel batch with status: cancelled');
    assertDetail(await send('/api/batches/b_unknown', 'DELETE'), 404, 'Batch not found');
  });

  test('GET /api/batches pages the tenant’s batches by offset, newest first, and filters by the design’s statuses', async () => {
    const everything: string[] = [];
    for (let cursor: string | null = null; ;) {
      const page: Json = (await send(`/v1/batches?limit=100${cursor ? `&cursor=${cursor}` : ''}`, 'GET')).body;
      everything.push(...(page.batches as Json[]).map((b) => b.batch_id as string));
      cursor = page.next_cursor as string | null;
      if (!cursor) break;
    }
    const first = await send('/api/batches?limit=2&offset=0', 'GET');
    assert.equal(first.status, 200);
    assert.deepEqual(Object.keys(first.body).sort(), ['batches', 'total']);
    assert.equal(first.body.total, everything.length);
    assert.deepEqual(
      first.body.batches.map((b: Json) => b.id),
      everything.slice(0, 2),
    );
    const second = await send('/api/batches?limit=2&offset=2', 'GET');
    assert.deepEqual(
      second.body.batches.map((b: Json) => b.id),
      everything.slice(2, 4),
    );
    assert.equal(first.body.batches[0].failed_items, null, 'the list leaves failed_items out, as the design does');

    const completed = await send('/api/batches?status=completed&limit=100', 'GET');
    assert.equal(completed.body.total, completed.body.batches.length);
    assert.ok(completed.body.batches.every((b: Json) => b.status === 'completed'));
    assert.ok(completed.body.batches.some((b: Json) => b.id === searchId));
    assert.ok(
      completed.body.batches.some((b: Json) => b.id === publishId),
      'a batch with failed items is completed in the design',
    );

    const past = await send(`/api/batches?offset=${everything.length}`, 'GET');
    assert.deepEqual(past.body.batches, []);
    assert.equal(past.body.total, everything.length);
    assertError(await send('/api/batches?limit=0', 'GET'), 400, 'validation_failed');
    assertError(await send('/api/batches?status=partial', 'GET'), 400, 'validation_failed');
  });
});

// ---------------------------------------------------------------------------------------------

describe('every compatibility route needs a key and sees only its tenant', () => {
  test('another tenant’s ids answer 404 on every GET and DELETE, and its list is empty', async () => {
    const job = await send('/api/v1/classify/bulk', 'POST', { products: [{ product_id: 'P-1', description: 'wooden dining chair' }] });
    const doc = await send('/batch/jobs', 'POST', { documents: [{ filename: 'x.txt', content: b64('x') }] });
    const parts = await send('/api/bulk-search', 'POST', { part_numbers: ['chair-oak-1'] });
    const ids = { job: job.body.job_id as string, doc: doc.body.job_id as string, parts: parts.body.batch_id as string };
    for (const [method, path] of [
      ['GET', `/api/v1/jobs/${ids.job}`],
      ['GET', `/batch/jobs/${ids.doc}`],
      ['GET', `/batch/jobs/${ids.doc}/stream`],
      ['DELETE', `/batch/jobs/${ids.doc}`],
      ['GET', `/api/batches/${ids.parts}`],
      ['DELETE', `/api/batches/${ids.parts}`],
      ['GET', '/api/v1/jobs/b_unknown'],
      ['GET', '/batch/jobs/b_unknown/stream'],
    ] as const) {
      assertError(await send(path, method, undefined, { key: other.key }), 404, 'not_found');
    }
    const list = await send('/api/batches', 'GET', undefined, { key: other.key });
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.batches, []);
    assert.equal(list.body.total, 0);
    // The owner still sees them, untouched.
    assert.equal((await send(`/batch/jobs/${ids.doc}`, 'GET')).status, 200);
  });

  test('no key, or an unknown one, is 401 on every route', async () => {
    for (const [method, path] of [
      ['POST', '/api/v1/classify/bulk'],
      ['GET', '/api/v1/jobs/b_x'],
      ['POST', '/batch/jobs'],
      ['GET', '/batch/jobs/b_x'],
      ['GET', '/batch/jobs/b_x/stream'],
      ['DELETE', '/batch/jobs/b_x'],
      ['POST', '/api/bulk-search'],
      ['POST', '/api/bulk-publish'],
      ['GET', '/api/batches'],
      ['GET', '/api/batches/b_x'],
      ['DELETE', '/api/batches/b_x'],
    ] as const) {
      assertError(await send(path, method, method === 'POST' ? { part_numbers: ['x'] } : undefined, { key: null }), 401, 'unauthorized');
      assertError(await send(path, method, undefined, { key: 'bf_not_a_key' }), 401, 'unauthorized');
    }
    const bearer = await stack.api('/api/batches?limit=1', { key: null, headers: { authorization: `Bearer ${stack.key}` } });
    assert.equal(bearer.status, 200);
  });
});
