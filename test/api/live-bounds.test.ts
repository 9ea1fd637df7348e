/**
 * Live connections are bounded (issue 12, the contract's "Limits"): at most 50 SSE and WebSocket
 * connections per key at once (the next is 429), a WebSocket upgrade draws on the key's reads like
 * any read, and a client that stops reading is dropped instead of buffered for without end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import { MAX_LIVE_PER_KEY, PACE_WAIT_MS } from '../../src/api/live/slots';
import { eventually, sleep, submit, within } from '../helpers/api';
import { startStack, waitForBatch, type Stack } from '../helpers/stack';

const TIMEOUT_MS = 240_000;

/** Opens a WebSocket; resolves with 101 once open, or the status of the refusal. */
function openWs(stack: Stack, batchId: string, key = stack.key): Promise<{ status: number; ws?: WebSocket; retryAfter?: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${stack.baseUrl.replace('http', 'ws')}/v1/batches/${batchId}/ws`, { headers: { 'x-api-key': key } });
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined });
      res.resume();
    });
    ws.once('error', () => resolve({ status: 0 }));
  });
}

/** Opens an SSE stream and reads only its status; the body is left open (and unread). */
async function openSse(stack: Stack, batchId: string, signal: AbortSignal): Promise<number> {
  const res = await fetch(`${stack.baseUrl}/v1/batches/${batchId}/events`, { headers: { 'x-api-key': stack.key }, signal });
  if (res.status !== 200) await res.text();
  return res.status;
}

test(
  `${MAX_LIVE_PER_KEY} live connections per key are served, SSE and WebSocket together; the next ones are 429 until one closes`,
  { timeout: TIMEOUT_MS },
  async () => {
    const stack = await startStack({ noWorker: true });
    const sse = new AbortController();
    const sockets: WebSocket[] = [];
    try {
      // No worker: the batch stays queued, so every stream stays open.
      const batchId = await submit(stack, { items: [{ ref: 'a', text: 'wooden dining chair' }] });
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) statuses.push(await openSse(stack, batchId, sse.signal));
      for (let i = 0; i < 30; i++) {
        const r = await openWs(stack, batchId);
        statuses.push(r.status);
        if (r.ws) sockets.push(r.ws);
        if (r.status === 429) assert.ok(Number(r.retryAfter) >= 1, 'a refused upgrade says when to retry');
      }
      assert.deepEqual(statuses.slice(0, 30), Array(30).fill(200), 'the first 30 SSE are served');
      assert.deepEqual(statuses.slice(30, 50), Array(20).fill(101), 'then 20 WebSockets');
      assert.deepEqual(statuses.slice(50), Array(10).fill(429), 'and the last 10 are refused');
      const refused = await stack.api(`/v1/batches/${batchId}/events`);
      assert.equal(refused.status, 429);
      const body = (await refused.json()) as { error: { code: string; retry_after: number } };
      assert.equal(body.error.code, 'rate_limited');
      assert.ok(refused.headers.get('retry-after'));

      // Closing one frees its slot.
      sockets.pop()!.close();
      const again = await eventually('a slot to free', async () => {
        const r = await openWs(stack, batchId);
        if (r.ws) sockets.push(r.ws);
        return r.status === 101 ? r : undefined;
      });
      assert.equal(again.status, 101);
    } finally {
      sse.abort();
      for (const ws of sockets) ws.terminate();
      await stack.stop();
    }
  },
);

test('a WebSocket upgrade draws on the key’s reads: past the limit it is 429 with Retry-After', { timeout: TIMEOUT_MS }, async () => {
  // The reads limit is what this test is about: 3 a minute.
  const stack = await startStack({ noWorker: true, limits: { reads: 3, reads_window_s: 60 } });
  const open: WebSocket[] = [];
  try {
    const batchId = await submit(stack, { items: [{ ref: 'a', text: 'wooden dining chair' }] });
    const results = [];
    for (let i = 0; i < 4; i++) {
      const r = await openWs(stack, batchId);
      if (r.ws) open.push(r.ws);
      results.push(r);
    }
    assert.deepEqual(
      results.map((r) => r.status),
      [101, 101, 101, 429],
    );
    assert.ok(Number(results[3]!.retryAfter) >= 1);
  } finally {
    for (const ws of open) ws.terminate();
    await stack.stop();
  }
});

test('an SSE client that stops reading is dropped, and the API’s memory stays flat', { timeout: TIMEOUT_MS }, async (t) => {
  const stack = await startStack();
  try {
    // 20,000 items that all fail at ingest (an unusable chunk size fails every call for good), each
    // with a 200-character ref: resumed from the start, the stream owes about 10 MB of item_failed
    // events, more than the kernel's socket buffers hold for a client that reads nothing.
    const refs = Array.from({ length: 20_000 }, (_, i) => `${String(i).padStart(6, '0')}-${'r'.repeat(193)}`);
    const batchId = await submit(stack, {
      items: refs.map((ref) => ({ ref, text: 'x' })),
      stages: ['ingest'],
      chunk_size: 500,
      metadata: { chunk_chars: 'large' },
    });
    const done = await waitForBatch(stack, batchId, undefined, 180_000);
    assert.equal(done.counts.failed, refs.length);

    // A client that reads gets every event and the end: what the one below misses is its own doing.
    const reader = await stack.api(`/v1/batches/${batchId}/events`, { headers: { 'last-event-id': '0.0.0' } });
    const all = await reader.text();
    assert.equal((all.match(/event: ?item_failed/g) ?? []).length, refs.length);
    assert.match(all, /event: ?partial/, 'every item failed, none stopped the batch: partial');

    const rssBefore = process.memoryUsage().rss;
    // A raw client: sends the request, then reads nothing for a while (paused before any byte arrives).
    const port = Number(new URL(stack.baseUrl).port);
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.pause();
    socket.write(
      `GET /v1/batches/${batchId}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: ${stack.key}\r\nLast-Event-ID: 0.0.0\r\nAccept: text/event-stream\r\n\r\n`,
    );
    // Past PACE_WAIT_MS without taking anything, it is dropped.
    await sleep(PACE_WAIT_MS + 5_000);
    const rssAfter = process.memoryUsage().rss;

    // Then it reads what is left: what the kernel held, and the end of a stream cut short.
    let received = 0;
    let tail = '';
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      tail = (tail + chunk.toString('latin1')).slice(-4096);
    });
    socket.resume();
    await within(ended, 60_000, 'the stream did not end');
    const owed = Buffer.byteLength(all);
    const growthMb = (rssAfter - rssBefore) / 1024 / 1024;
    t.diagnostic(
      `received ${(received / 1048576).toFixed(1)} MB of about ${(owed / 1048576).toFixed(1)} MB owed; RSS ${Math.round(rssBefore / 1048576)} → ${Math.round(rssAfter / 1048576)} MB (${growthMb.toFixed(1)} MB)`,
    );
    assert.ok(!/event: ?(partial|failed|completed)/.test(tail), 'no terminal event: the stream was cut short');
    assert.ok(received < owed, `received ${received} of ${owed} bytes`);
    assert.ok(growthMb < 64, `RSS grew ${growthMb.toFixed(1)} MB`);
    // The client may come back where it left off: the stream is resumable, not lost.
    const again = await stack.api(`/v1/batches/${batchId}/events`, { headers: { 'last-event-id': `${refs.length - 1}.0.0` } });
    assert.equal(again.status, 200);
    assert.match(await again.text(), /event: ?partial/);
  } finally {
    await stack.stop();
  }
});

test('a refused stream leaves no timer armed, on every live route', { timeout: TIMEOUT_MS }, async () => {
  const stack = await startStack({ noWorker: true });
  try {
    // Timers that keep the process alive; a refused stream must not add one (each once waited an hour).
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const missing = '00000000-0000-7000-8000-000000000000';
    await stack.api(`/batch/jobs/${missing}/stream`); // warms up whatever the first request creates
    const before = timers();
    for (let i = 0; i < 20; i++) {
      for (const path of [`/v1/batches/${missing}/events`, `/batch/jobs/${missing}/stream`, `/api/v1/batch/jobs/${missing}/stream`]) {
        const res = await stack.api(path);
        assert.equal(res.status, 404, path);
        await res.text();
      }
      const ws = await openWs(stack, missing);
      assert.equal(ws.status, 404);
    }
    assert.ok(timers() - before < 10, `${timers() - before} timers armed by 80 refused streams`);
  } finally {
    await stack.stop();
  }
});
