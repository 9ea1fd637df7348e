/**
 * The per-item HTTP client (src/net/http-client.ts) as publish, its undo and classify's fallback
 * use it, against a local server that counts the TCP connections it accepts: calls reuse
 * keep-alive connections, every answer's body is consumed (an unread one would pin its connection
 * and the next call would open another), and timeouts, 429/5xx and 4xx map as they did over fetch.
 *
 * One caller making calls one after another uses two connections, not one: undici hands over the
 * body's end before it marks the connection free, so the next call finds it busy and opens a
 * second; from then on the two alternate (global fetch does the same). What matters is that the
 * count does not grow with the number of calls.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpPublisher, publishOne } from '../../activities/stages/publish/http';
import { httpUnpublisher } from '../../activities/stages/publish/undo';
import { createFallback } from '../../activities/stages/classify/fallback';
import { closeHttpAgent } from '../../src/net/http-client';
import type { WorkItem } from '../../src/db/items';

type Reply = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

let server: http.Server;
let baseUrl: string;
let connections = 0;
let reply: Reply;
const seen: http.IncomingHttpHeaders[] = [];

before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push(req.headers);
      reply(req, res, body);
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

after(async () => {
  await closeHttpAgent();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(async () => {
  // Each test starts with no pooled connection, so its count is its own.
  await closeHttpAgent();
  server.closeAllConnections();
  connections = 0;
  seen.length = 0;
});

const item = (seq: number, ref = `r${seq}`): WorkItem => ({
  seq,
  ref,
  text: `item ${seq}`,
  content_b64: null,
  content_type: null,
  attributes: null,
  status: null,
  stage: null,
  classification: null,
  published_id: null,
  staged: false,
  published: false,
  publish_sent: false,
  error: null,
  attempts: 0,
});

const opts = (timeoutMs = 2_000) => ({ baseUrl, timeoutMs, concurrency: 1 });
let nextId = 1;
const created: Reply = (_req, res) => res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: nextId++ }));

describe('keep-alive: calls share pooled connections', () => {
  test('50 sequential publishes use two connections at most', async () => {
    reply = created;
    for (let i = 0; i < 50; i++) {
      const res = await publishOne(opts(), 'b1', item(i));
      assert.ok('ok' in res && res.ok, JSON.stringify(res));
    }
    assert.ok(connections <= 2, `${connections} connections`);
    // What the target sees: the item's idempotency key, JSON, and the headers fetch used to send.
    assert.equal(seen[0]!['idempotency-key'], 'b1:r0');
    assert.equal(seen[0]!['content-type'], 'application/json');
    assert.equal(seen[0]!.accept, '*/*');
  });

  test('two chunks at concurrency 8 open at most 2 x 8 connections between them', async () => {
    reply = (req, res, body) => setTimeout(() => created(req, res, body), 5);
    const publish = httpPublisher({ baseUrl, timeoutMs: 2_000, concurrency: 8 });
    const ctx = { batchId: 'b2', tenantId: 't', signal: new AbortController().signal, progress: () => undefined };
    for (let round = 0; round < 2; round++) {
      const results = await publish(
        Array.from({ length: 40 }, (_, i) => item(round * 40 + i)),
        ctx,
      );
      assert.equal(results.filter((r) => 'ok' in r && r.ok).length, 40);
    }
    assert.ok(connections <= 16, `${connections} connections`);
  });
});

describe('every answer body is consumed, whatever the status', () => {
  test('rejections, throttles, errors and deletes with bodies leave their connections reusable', async () => {
    const statuses = [422, 404, 429, 503, 201, 200];
    let i = 0;
    reply = (req, res) => {
      if (req.method === 'DELETE') return res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(100_000));
      const status = statuses[i++ % statuses.length]!;
      res
        .writeHead(status, { 'content-type': 'application/json', 'retry-after': '2' })
        .end(JSON.stringify({ id: 'p1', pad: 'y'.repeat(100_000) }));
    };
    const unpublish = httpUnpublisher({ baseUrl, timeoutMs: 2_000 });
    const codes: string[] = [];
    for (let n = 0; n < statuses.length * 3; n++) {
      const res = await publishOne(opts(), 'b3', item(n));
      codes.push('ok' in res && res.ok ? 'ok' : 'failure' in res ? res.failure.code : '?');
      assert.deepEqual(await unpublish(`p${n}`), { ok: true });
    }
    assert.deepEqual(codes.slice(0, 6), ['downstream_rejected', 'not_found', 'transient', 'transient', 'ok', 'ok']);
    // 36 calls, each answered 100 KB: more than undici buffers on its own (64 KiB), so a body left
    // unread would hold its connection and cost a new one per call.
    assert.ok(connections <= 2, `${connections} connections`);
  });
});

describe('failures map as they did over fetch', () => {
  test('429 and 5xx are retryable with their Retry-After; 4xx are permanent and say why', async () => {
    reply = (_req, res) => res.writeHead(429, { 'retry-after': '3' }).end();
    assert.deepEqual(await publishOne(opts(), 'b4', item(1)), {
      seq: 1,
      ok: false,
      failure: { code: 'transient', message: 'publish target answered 429', retryable: true, retryAfterMs: 3000 },
    });
    reply = (_req, res) => res.writeHead(503).end();
    const unavailable = await publishOne(opts(), 'b4', item(2));
    assert.ok('failure' in unavailable && unavailable.failure.retryable && unavailable.failure.retryAfterMs === undefined);
    reply = (_req, res) => res.writeHead(409).end('duplicate ref');
    assert.deepEqual(await publishOne(opts(), 'b4', item(3)), {
      seq: 3,
      ok: false,
      failure: { code: 'downstream_rejected', message: 'publish target answered 409: duplicate ref', retryable: false },
    });
    reply = (_req, res) => res.writeHead(201).end('not json');
    const noId = await publishOne(opts(), 'b4', item(4));
    assert.ok('failure' in noId && noId.failure.retryable && /201 without an id/.test(noId.failure.message));
  });

  test('no answer within the timeout is a transient failure, and the next call still works', async () => {
    reply = (req, res, body) =>
      body.includes('"ref":"slow"') ? setTimeout(() => created(req, res, body), 1_000) : created(req, res, body);
    const started = Date.now();
    const res = await publishOne(opts(150), 'b5', item(1, 'slow'));
    assert.ok(Date.now() - started < 900, 'the deadline, not the answer, ended the call');
    assert.ok('failure' in res, JSON.stringify(res));
    assert.equal(res.failure.code, 'transient');
    assert.equal(res.failure.retryable, true);
    assert.match(res.failure.message, /^publish request failed: The operation was aborted due to timeout$/);
    const next = await publishOne(opts(150), 'b5', item(2));
    assert.ok('ok' in next && next.ok);
  });

  test('a body that stalls past the timeout reads as an answer without an id, as before', async () => {
    reply = (_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.write('{"id":');
    };
    const res = await publishOne(opts(150), 'b6', item(1));
    assert.ok('failure' in res && res.failure.retryable && /201 without an id/.test(res.failure.message), JSON.stringify(res));
  });

  test('a timed-out DELETE is retryable; a DELETE answered 400 is not', async () => {
    const unpublish = httpUnpublisher({ baseUrl, timeoutMs: 150 });
    reply = () => undefined;
    const hung = await unpublish('x');
    assert.ok(!hung.ok && hung.retryable && /DELETE failed: The operation was aborted due to timeout/.test(hung.message));
    reply = (_req, res) => res.writeHead(400).end('no');
    assert.deepEqual(await unpublish('y'), { ok: false, retryable: false, message: 'DELETE answered 400' });
  });

  test('a target that cannot be addressed is a permanent invalid_request', async () => {
    const res = await publishOne({ baseUrl: 'not a url', timeoutMs: 1_000, concurrency: 1 }, 'b7', item(1));
    assert.ok('failure' in res && res.failure.code === 'invalid_request' && !res.failure.retryable);
  });

  test("classify's fallback: its answer, and a 429's Retry-After", async () => {
    const fallback = createFallback({ url: baseUrl, model: 'm', apiKey: 'k', timeoutMs: 2_000 });
    const candidates = [{ label: '0901', description: 'coffee', confidence: 0.4 }];
    reply = (_req, res) =>
      res.writeHead(200).end(JSON.stringify({ choices: [{ message: { content: '{"label":"0901","confidence":0.9}' } }] }));
    assert.deepEqual(await fallback('beans', candidates), { ok: true, label: '0901', confidence: 0.9 });
    assert.equal(seen[0]!.authorization, 'Bearer k');
    reply = (_req, res) => res.writeHead(429, { 'retry-after': '4' }).end();
    assert.deepEqual(await fallback('beans', candidates), {
      ok: false,
      retryable: true,
      message: 'fallback answered 429',
      retryAfterMs: 4000,
    });
  });
});
