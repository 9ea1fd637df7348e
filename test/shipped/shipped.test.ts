/**
 * batchflow as it ships: `src/main/start.ts` (what `npm start` runs) as a process, with no
 * setting but its port, data directory and ALLOW_PRIVATE_CALLBACKS (test/helpers/shipped.ts).
 * Two suites share that one process, since it owns the embedded ports 7233 and 8233:
 *
 * - seed conformance: each original design's example requests, sent as their text writes them
 *   (seed-examples.ts), and every answer and event checked field by field against the design's
 *   own models (seed-models.ts);
 * - shipped defaults: every feature once over HTTP, on the defaults: JSON, CSV and NDJSON
 *   submissions, SSE and WebSocket, the four exports, a webhook, review, retry-failed, pause and
 *   resume, cancel. (The compatibility families run in the first suite, on the same defaults.)
 *
 * Limits are the shipped ones too (3 active batches a key), so each test waits for its batches.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { tenantUuid } from '../../src/batches/ids';
import { DEV_TENANT } from '../../src/auth/dev-key';
import { eventually } from '../helpers/api';
import { openSse } from '../helpers/sse';
import { startWebhookReceiver, verifySignature, type WebhookReceiver } from '../helpers/webhook-receiver';
import { startShipped, type Shipped } from '../helpers/shipped';
import * as models from './seed-models';
import * as examples from './seed-examples';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let app: Shipped;
let receiver: WebhookReceiver;

before(async () => {
  app = await startShipped();
  receiver = await startWebhookReceiver();
});
after(async () => {
  await receiver?.close();
  await app?.stop();
});

/** Sends `body` exactly as given (a string is sent as is: the seeds' text, byte for byte). */
async function call(
  method: string,
  p: string,
  body?: string | Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await app.api(p, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  const parsed = ((): Json => {
    try {
      return text ? (JSON.parse(text) as Json) : {};
    } catch {
      return { text };
    }
  })();
  return { status: res.status, body: parsed, headers: res.headers };
}

function assertConforms(value: unknown, model: models.Model, what: string): void {
  const problems = models.conformance(value, model);
  assert.deepEqual(problems, [], `${what} differs from the design's model:\n${problems.join('\n')}\n${JSON.stringify(value)}`);
}

/** Polls `p` until `done` holds: the shipped progress, as a client polling the design's route sees it. */
const pollUntil = (p: string, done: (b: Json) => boolean, timeoutMs = 180_000): Promise<Json> =>
  eventually(
    `${p} to finish`,
    async () => {
      const r = await call('GET', p);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return done(r.body) ? r.body : undefined;
    },
    timeoutMs,
  );

const v1Finished = (b: Json): boolean => ['completed', 'partial', 'failed', 'cancelled'].includes(b.status as string);
const waitV1 = (batchId: string): Promise<Json> => pollUntil(`/v1/batches/${batchId}`, v1Finished);

/** Reads an SSE stream to its end (the server closes it after the terminal event). */
async function streamToEnd(p: string, lastEventId?: string) {
  const stream = await openSse(`${app.baseUrl}${p}`, { 'x-api-key': app.key, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) });
  const timer = setTimeout(() => stream.abort(), 180_000);
  await stream.closed;
  clearTimeout(timer);
  assert.ok(stream.endedByServer(), `the server closed ${p}`);
  return stream;
}

// =============================================================================================
// Seed conformance
// =============================================================================================

describe('seed conformance, 000 classify (AR-BULK-01): POST /api/v1/classify/bulk', () => {
  for (const [priority, body] of [
    ['normal', examples.CLASSIFY_BULK_NORMAL],
    ['express', examples.CLASSIFY_BULK_EXPRESS],
  ] as const) {
    test(`the example request with "priority": "${priority}" answers the job to poll, and its poll_url reports each product`, async () => {
      const r = await call('POST', '/api/v1/classify/bulk', body, { 'content-type': 'application/json' });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      assertConforms(r.body, models.ClassifyAccepted, 'the answer');
      assert.equal(r.body.poll_url, `/api/v1/jobs/${r.body.job_id}`);

      const job = await pollUntil(r.body.poll_url as string, (b) => !['queued', 'processing'].includes(b.status as string));
      assert.equal(job.job_id, r.body.job_id);
      assert.equal(job.status, 'completed');
      assert.equal(job.corridor, 'MX_US');
      assert.equal(job.results.length, 1);
      const product = job.results[0] as Json;
      assert.equal(product.product_id, 'client-sku-123');
      assert.equal(product.hs_code, '6109', 'a cotton t-shirt is heading 6109');
      assert.ok('error' in product, 'every result has the error field ("Failed products get `error` field in results")');
      // "Track per-product classification cost (Rosetta vs Gemini tier used). Store in job metadata for billing."
      assert.equal(product.tier, 'core');
      assert.equal(job.metadata.cost.by_tier.core, 1);
      const v1 = await call('GET', `/v1/batches?limit=1`);
      assert.equal(v1.body.batches[0].priority, priority);
    });
  }
});

describe('seed conformance, 001 documents: /batch/jobs', () => {
  let jobId: string;

  test('the BatchJobCreate example answers a BatchJob (200)', async () => {
    const r = await call('POST', '/batch/jobs', examples.batchJobCreate(tenantUuid(DEV_TENANT)), { 'content-type': 'application/json' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assertConforms(r.body, models.BatchJob, 'POST /batch/jobs');
    assert.equal(r.body.tenant_id, tenantUuid(DEV_TENANT));
    assert.equal(r.body.total_documents, 1);
    jobId = r.body.job_id as string;
  });

  test('its stream sends ProgressEvents named progress, then complete with {"status"}, and closes', async () => {
    const stream = await streamToEnd(`/batch/jobs/${jobId}/stream`);
    assert.ok(stream.events.length >= 3, JSON.stringify(stream.events));
    const last = stream.events[stream.events.length - 1]!;
    assert.equal(last.event, 'complete');
    assertConforms(JSON.parse(last.data), models.StreamComplete, 'the complete event');
    assert.deepEqual(JSON.parse(last.data), { status: 'completed' });
    const progress = stream.events.slice(0, -1);
    for (const e of progress) {
      assert.equal(e.event, 'progress');
      assertConforms(JSON.parse(e.data), models.ProgressEvent, 'a progress event');
    }
    const data = progress.map((e) => JSON.parse(e.data) as Json);
    assert.deepEqual(
      data.map((d) => d.event_type),
      ['start', 'progress', 'complete'],
    );
    assert.equal(data[1]!.document_index, 0);
    assert.equal(data[1]!.filename, 'invoice-2024-001.txt');
    assert.ok(data.every((d) => d.job_id === jobId));
  });

  test('GET /batch/jobs/{job_id} answers the BatchJob, completed', async () => {
    const r = await call('GET', `/batch/jobs/${jobId}`);
    assert.equal(r.status, 200);
    assertConforms(r.body, models.BatchJob, 'GET /batch/jobs/{job_id}');
    assert.equal(r.body.status, 'completed');
    assert.equal(r.body.processed_count, 1);
  });

  test('DELETE /batch/jobs/{job_id} of a processing job answers {"status": "cancelled"}; of a finished one, 404', async () => {
    const documents = Array.from({ length: 400 }, (_, i) => ({
      filename: `scan-${i}.txt`,
      content: Buffer.from(`page ${i}`).toString('base64'),
      metadata: {},
    }));
    const created = await call('POST', '/batch/jobs', { tenant_id: tenantUuid(DEV_TENANT), documents, collection: 'scans', priority: 5 });
    assert.equal(created.status, 200);
    const id = created.body.job_id as string;
    const cancelled = await call('DELETE', `/batch/jobs/${id}`);
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    assertConforms(cancelled.body, models.JobCancelled, 'DELETE /batch/jobs/{job_id}');
    const done = await pollUntil(`/batch/jobs/${id}`, (b) => b.status === 'cancelled');
    assertConforms(done, models.BatchJob, 'the cancelled job');
    const again = await call('DELETE', `/batch/jobs/${id}`);
    assert.equal(again.status, 404);
    assert.equal(again.body.detail, 'Job not found or not cancellable');
  });

  test('a tenant the key does not know answers 404 {"detail": "Tenant not found"}', async () => {
    const body = examples.batchJobCreate('5b1e0f3c-8d7a-4c2e-9f61-3a0b2c4d5e6f');
    const r = await call('POST', '/batch/jobs', body, { 'content-type': 'application/json' });
    assert.equal(r.status, 404);
    assert.equal(r.body.detail, 'Tenant not found');
    assert.equal((await call('GET', '/batch/jobs/0190a8f2-0000-7000-8000-000000000000')).body.detail, 'Job not found');
  });
});

describe('seed conformance, 003 part numbers: /api/bulk-search, /api/bulk-publish, /api/batches', () => {
  const finished = (b: Json): boolean => ['completed', 'failed', 'cancelled'].includes(b.status as string);
  const ids: string[] = [];

  for (const [name, body] of Object.entries(examples.BULK_SEARCH_EXAMPLES)) {
    test(`bulk-search, the docstring's example "${name}"`, async () => {
      const r = await call('POST', '/api/bulk-search', body, { 'content-type': 'application/json' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assertConforms(r.body, models.BulkOperationResponse, 'POST /api/bulk-search');
      assert.equal(r.body.status, 'processing');
      assert.equal(r.body.total_items, (JSON.parse(body) as Json).part_numbers?.length ?? 3);
      ids.push(r.body.batch_id as string);
      const done = await pollUntil(`/api/batches/${r.body.batch_id}`, finished);
      assertConforms(done, models.BatchStatusResponse, 'GET /api/batches/{batch_id}');
      assert.equal(done.batch_type, 'search');
      assert.equal(done.status, 'completed');
      assert.equal(done.progress_percent, 100);
    });
  }

  test('bulk-publish, with BulkSearchRequest\'s input ("Same input options"): each part number published to the built-in catalog', async () => {
    const r = await call('POST', '/api/bulk-publish', examples.BULK_PUBLISH_EXAMPLE, { 'content-type': 'application/json' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assertConforms(r.body, models.BulkOperationResponse, 'POST /api/bulk-publish');
    const done = await pollUntil(`/api/batches/${r.body.batch_id}`, finished);
    assertConforms(done, models.BatchStatusResponse, 'GET /api/batches/{batch_id}');
    assert.equal(done.batch_type, 'publish');
    assert.equal(done.published_count, 3);
    assert.equal(done.status, 'completed');
    const catalog = await call('GET', `/v1/catalog?batch_id=${r.body.batch_id}`);
    assert.equal(catalog.body.items.length, done.published_count);
  });

  test("GET /api/batches answers a BatchListResponse; a status filter uses the design's statuses", async () => {
    const r = await call('GET', '/api/batches?limit=50&offset=0&status=completed');
    assert.equal(r.status, 200);
    assertConforms(r.body, models.BatchListResponse, 'GET /api/batches');
    for (const id of ids)
      assert.ok(
        r.body.batches.some((b: Json) => b.id === id),
        id,
      );
  });

  test('DELETE /api/batches/{batch_id}: cancellation initiated; a finished batch is 400, an unknown one 404', async () => {
    const r = await call('POST', '/api/bulk-search', { part_numbers_text: Array.from({ length: 2_000 }, (_, i) => `PN-${i}`).join('\n') });
    assert.equal(r.status, 200);
    const id = r.body.batch_id as string;
    const cancelled = await call('DELETE', `/api/batches/${id}`);
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    assertConforms(cancelled.body, models.CancelInitiated, 'DELETE /api/batches/{batch_id}');
    assert.equal(cancelled.body.message, 'Batch cancellation initiated');
    assert.equal((await pollUntil(`/api/batches/${id}`, finished)).status, 'cancelled');
    const again = await call('DELETE', `/api/batches/${id}`);
    assert.equal(again.status, 400);
    assertConforms({ detail: again.body.detail }, models.HttpExceptionBody, 'the 400');
    assert.equal(again.body.detail, 'Cannot cancel batch with status: cancelled');
    const unknown = await call('GET', '/api/batches/b_01J00000000000000000000000');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.detail, 'Batch not found');
  });
});

// =============================================================================================
// Shipped defaults: every feature once
// =============================================================================================

const ITEMS = ['cotton t-shirt crew neck', 'leather oxford shoes', 'laptop computer', 'wooden dining chair'];

describe('shipped defaults: every feature once, over HTTP', () => {
  let jsonBatch: string;

  test('submit as JSON, then read it and its items', async () => {
    const r = await call('POST', '/v1/batches', { items: ITEMS.map((text, i) => ({ ref: `json-${i}`, text })) });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    jsonBatch = r.body.batch_id as string;
    const done = await waitV1(jsonBatch);
    assert.equal(done.status, 'completed');
    assert.equal(done.counts.published, ITEMS.length, 'classified, ingested and published to the built-in catalog');
    const items = await call('GET', `/v1/batches/${jsonBatch}/items`);
    assert.equal(items.body.items.length, ITEMS.length);
  });

  test('submit as CSV and as NDJSON', async () => {
    const csv = ['ref,text,origin_country', ...ITEMS.map((t, i) => `csv-${i},${t},CN`)].join('\n');
    const a = await call('POST', '/v1/batches?stages=classify,ingest', csv, { 'content-type': 'text/csv' });
    assert.equal(a.status, 202, JSON.stringify(a.body));
    const ndjson = ITEMS.map((text, i) => JSON.stringify({ ref: `nd-${i}`, text })).join('\n');
    const b = await call('POST', '/v1/batches?stages=classify', ndjson, { 'content-type': 'application/x-ndjson' });
    assert.equal(b.status, 202, JSON.stringify(b.body));
    for (const id of [a.body.batch_id, b.body.batch_id]) assert.equal((await waitV1(id)).status, 'completed');
  });

  test('live progress over SSE and over a WebSocket, each to its terminal event', async () => {
    const r = await call('POST', '/v1/batches', {
      items: Array.from({ length: 300 }, (_, i) => ({ ref: `live-${i}`, text: ITEMS[i % 4]! })),
    });
    const id = r.body.batch_id as string;
    const ws = new WebSocket(`${app.baseUrl.replace('http', 'ws')}/v1/batches/${id}/ws`, { headers: { 'x-api-key': app.key } });
    const messages: Json[] = [];
    const wsDone = new Promise<void>((resolve, reject) => {
      ws.on('message', (m) => messages.push(JSON.parse(m.toString()) as Json));
      ws.on('close', () => resolve());
      ws.on('error', reject);
    });
    const sse = await streamToEnd(`/v1/batches/${id}/events`);
    await wsDone;
    assert.equal(sse.events[sse.events.length - 1]!.event, 'completed');
    assert.ok(sse.events.some((e) => e.event === 'progress'));
    assert.equal(messages[messages.length - 1]!.type, 'completed');
    assert.equal(messages[messages.length - 1]!.counts.published, 300);
  });

  test('the four export formats', async () => {
    for (const [format, type] of [
      ['csv', 'text/csv'],
      ['ndjson', 'application/x-ndjson'],
      ['json', 'application/json'],
      ['parquet', 'application/vnd.apache.parquet'],
    ] as const) {
      const res = await app.api(`/v1/batches/${jsonBatch}/export?format=${format}`);
      assert.equal(res.status, 200, format);
      assert.match(res.headers.get('content-type') ?? '', new RegExp(`^${type.replace('.', '\\.')}`));
      assert.equal(res.headers.get('content-disposition'), `attachment; filename="${jsonBatch}.${format}"`);
      const bytes = Buffer.from(await res.arrayBuffer());
      if (format === 'parquet') assert.equal(bytes.subarray(0, 4).toString(), 'PAR1');
      else if (format === 'json') assert.equal((JSON.parse(bytes.toString()) as { items: unknown[] }).items.length, ITEMS.length);
      else if (format === 'ndjson') assert.equal(bytes.toString().trim().split('\n').length, ITEMS.length);
      else assert.equal(bytes.toString().trim().split('\n').length, ITEMS.length + 1);
    }
  });

  test('a completion webhook reaches a loopback receiver, signed with the shipped secret', async () => {
    const r = await call('POST', '/v1/batches', {
      items: [{ ref: 'hook-1', text: 'wooden dining chair' }],
      stages: ['classify'],
      callback_url: receiver.url,
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await waitV1(r.body.batch_id as string);
    const hook = await eventually(
      'the webhook',
      () => receiver.received.find((h) => JSON.parse(h.body).batch_id === r.body.batch_id),
      60_000,
    );
    const secret = fs.readFileSync(path.join(app.dataDir, 'webhook-secret'), 'utf8').trim();
    assert.ok(verifySignature(secret, hook.headers['x-batchflow-signature'] as string, hook.body), 'the signature verifies');
    assert.equal(JSON.parse(hook.body).event, 'batch.finished');
    const seen = await pollUntil(`/v1/batches/${r.body.batch_id}`, (b) => b.webhook?.status === 'delivered', 60_000);
    assert.ok(seen.webhook.attempts >= 1);
  });

  test('review: an item nobody is sure of waits for a person, whose label lets it finish', async () => {
    const r = await call('POST', '/v1/batches', { items: [{ ref: 'odd-1', text: 'PN-4711' }], stages: ['classify', 'publish'] });
    const id = r.body.batch_id as string;
    const waiting = await waitV1(id);
    assert.equal(waiting.counts.needs_review, 1);
    const queue = await call('GET', `/v1/review?batch_id=${id}`);
    assert.deepEqual(
      queue.body.items.map((i: Json) => i.ref),
      ['odd-1'],
    );
    const resolved = await call('POST', `/v1/review/${id}/odd-1`, { label: '8481' });
    assert.ok([200, 202].includes(resolved.status), JSON.stringify(resolved.body));
    const done = await pollUntil(`/v1/batches/${id}`, (b) => b.status === 'completed');
    assert.equal(done.counts.published, 1);
  });

  test('retry-failed runs the failed items again', async () => {
    // An unusable chunk size fails every item's ingest for good: a permanent failure on the defaults.
    const r = await call('POST', '/v1/batches', {
      items: ITEMS.map((text, i) => ({ ref: `bad-${i}`, text })),
      stages: ['ingest'],
      metadata: { chunk_chars: 'large' },
    });
    const id = r.body.batch_id as string;
    const failed = await waitV1(id);
    assert.equal(failed.counts.failed, ITEMS.length);
    // A permanent failure says so: not retryable, after one attempt (not the policy's maximum).
    const errors = (await call('GET', `/v1/batches/${id}/items?status=failed`)).body.items.map((i: Json) => i.error);
    assert.ok(
      errors.every((e: Json) => e.retryable === false && e.attempts === 1 && e.code === 'ValidationError'),
      JSON.stringify(errors[0]),
    );
    const retried = await call('POST', `/v1/batches/${id}/retry-failed`);
    assert.equal(retried.status, 202, JSON.stringify(retried.body));
    assert.equal(retried.body.retried, ITEMS.length);
    const again = await waitV1(id);
    assert.equal(again.counts.failed, ITEMS.length, 'the same permanent failure, reported again');
  });

  test('pause and resume', async () => {
    // 30 default chunks of 100: more than the 16 in flight, so some are still to start when it pauses.
    const r = await call('POST', '/v1/batches', {
      items: Array.from({ length: 3_000 }, (_, i) => ({ ref: `p-${i}`, text: ITEMS[i % 4]! })),
      stages: ['classify'],
    });
    const id = r.body.batch_id as string;
    const paused = await call('POST', `/v1/batches/${id}/pause`);
    assert.equal(paused.status, 202, JSON.stringify(paused.body));
    await pollUntil(`/v1/batches/${id}`, (b) => b.status === 'paused');
    // Chunks in flight finish; after that nothing moves until resume.
    await new Promise((r) => setTimeout(r, 2_000));
    const before = (await call('GET', `/v1/batches/${id}`)).body;
    await new Promise((r) => setTimeout(r, 1_500));
    const later = (await call('GET', `/v1/batches/${id}`)).body;
    assert.equal(later.status, 'paused');
    assert.deepEqual(later.counts, before.counts, 'no chunk starts while paused');
    assert.ok(later.counts.pending > 0);
    const resumed = await call('POST', `/v1/batches/${id}/resume`);
    assert.equal(resumed.status, 202);
    const done = await waitV1(id);
    assert.equal(done.status, 'completed');
    assert.equal(done.counts.classified, 3_000);
  });

  test('cancel', async () => {
    // More default chunks than the window, as for pause: the cancel finds work not yet started.
    const r = await call('POST', '/v1/batches', {
      items: Array.from({ length: 3_000 }, (_, i) => ({ ref: `c-${i}`, text: ITEMS[i % 4]! })),
      stages: ['classify'],
    });
    const id = r.body.batch_id as string;
    const cancelled = await call('POST', `/v1/batches/${id}/cancel`, {});
    assert.equal(cancelled.status, 202, JSON.stringify(cancelled.body));
    const done = await waitV1(id);
    assert.equal(done.status, 'cancelled');
  });
});
