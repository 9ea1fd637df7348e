/**
 * Live progress end to end: GET /v1/batches/{id}/events (SSE) and /ws (WebSocket) against a real
 * stack (Temporal dev server, worker, database, API on loopback), with a real publish target that
 * rejects some refs so that items fail. Asserts on what clients see (event order, ids, closing),
 * never on speed; the one count that depends on time (queries per window) has a stated slack.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import pino from 'pino';
import WebSocket from 'ws';
import { createApp } from '../../src/api/app';
import { createLiveHub, type LiveHubDeps } from '../../src/api/live/hub';
import { attachWebSockets } from '../../src/api/live/ws';
import { startPublishTarget, type PublishTarget } from '../helpers/publish-target';
import { items, startStack, waitForBatch, type Stack, type StackOptions } from '../helpers/stack';
import { allItems, eventually, sleep, submit, within } from '../helpers/api';
import { openSse, type SseEvent, type SseStream } from '../helpers/sse';

const TEST_TIMEOUT_MS = 240_000;
const TERMINAL = new Set(['completed', 'partial', 'failed', 'cancelled']);
/** Slows every publish a little, so a few hundred items take several seconds and yield several progress events. */
const LATENCY_MS = 25;

interface Body {
  batch_id: string;
  status: string;
  total_items: number;
  counts: Record<string, number>;
  progress_percent: number;
}

async function withStack(
  opts: StackOptions & { rejectEvery?: number },
  run: (stack: Stack, target: PublishTarget) => Promise<void>,
): Promise<void> {
  const refs = items(400).map((i) => i.ref);
  const rejectRefs = new Set(opts.rejectEvery ? refs.filter((_, i) => i % opts.rejectEvery! === 3) : []);
  const target = await startPublishTarget({ latencyMs: LATENCY_MS, rejectRefs });
  const stack = await startStack({ ...opts, publishUrl: target.url });
  try {
    await run(stack, target);
  } finally {
    await stack.stop();
    await target.close();
  }
}

const events = (stack: Stack, batchId: string, extra: Record<string, string> = {}, base = stack.baseUrl): Promise<SseStream> =>
  openSse(`${base}/v1/batches/${batchId}/events`, { 'x-api-key': stack.key, ...extra });

async function untilClosed(s: SseStream, what: string): Promise<SseEvent[]> {
  await within(s.closed, 180_000, `${what}: the stream did not close`);
  return s.events;
}

const ids = (es: Array<{ id: string }>): string[] => es.map((e) => e.id);
const failedRefs = (es: SseEvent[]): string[] =>
  es.filter((e) => e.event === 'item_failed').map((e) => (JSON.parse(e.data) as { ref: string }).ref);

async function pause(stack: Stack, batchId: string, paused: boolean): Promise<void> {
  const res = await stack.api(`/v1/batches/${batchId}/${paused ? 'pause' : 'resume'}`, { method: 'POST' });
  assert.equal(res.status, 202, await res.text());
}

/** Pauses the batch and waits until the chunk in flight has finished: from then on nothing moves. */
async function pauseAndSettle(stack: Stack, batchId: string): Promise<void> {
  await pause(stack, batchId, true);
  let before = '';
  await eventually('the paused batch to settle', async () => {
    const body = (await (await stack.api(`/v1/batches/${batchId}`)).json()) as Body;
    const now = JSON.stringify([body.status, body.counts]);
    const settled = body.status === 'paused' && now === before;
    before = now;
    if (!settled) await sleep(1_500);
    return settled;
  });
}

test(
  'SSE: increasing progress, exactly one terminal event last, then the server closes the stream',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    await withStack({}, async (stack) => {
      const batchId = await submit(stack, { items: items(300), chunk_size: 10, max_parallel_chunks: 1 });
      const sse = await events(stack, batchId);
      assert.equal(sse.status, 200);
      assert.match(sse.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.ok(sse.headers.get('x-request-id'));
      const got = await untilClosed(sse, 'SSE');
      assert.ok(sse.endedByServer(), 'the server closed the stream');

      const progress = got.filter((e) => e.event === 'progress').map((e) => JSON.parse(e.data) as Body);
      const terminal = got.filter((e) => TERMINAL.has(e.event));
      t.diagnostic(`${got.length} events: ${progress.length} progress, terminal ${terminal.map((e) => e.event).join(',')}`);
      assert.equal(terminal.length, 1, 'exactly one terminal event');
      assert.equal(got[got.length - 1], terminal[0], 'the terminal event is the last');
      assert.ok(progress.length >= 3, `several progress events (${progress.length})`);
      for (const [i, p] of progress.entries()) {
        assert.equal(p.batch_id, batchId);
        assert.equal(p.total_items, 300);
        if (i > 0) {
          assert.ok(p.counts.pending! <= progress[i - 1]!.counts.pending!, 'pending never goes up');
          assert.ok(p.progress_percent >= progress[i - 1]!.progress_percent, 'progress_percent never goes down');
        }
      }
      assert.ok(
        progress.some((p) => p.counts.pending! > 0 && p.counts.pending! < 300),
        'a progress event from the middle of the run',
      );
      assert.equal(new Set(ids(got)).size, got.length, 'every id is unique');
      assert.ok(
        got.every((e) => e.id !== ''),
        'every event has an id',
      );

      const final = JSON.parse(terminal[0]!.data) as Body;
      const read = await waitForBatch(stack, batchId);
      assert.equal(terminal[0]!.event, read.status);
      assert.equal(final.status, read.status);
      assert.deepEqual(final.counts, read.counts);

      // An EventSource reconnects after every close: after the terminal event it is told to stop.
      const again = await events(stack, batchId, { 'last-event-id': terminal[0]!.id });
      assert.equal(again.status, 204);
      // A new watcher of the finished batch gets the terminal event at once, and the close.
      const late = await untilClosed(await events(stack, batchId), 'late watcher');
      assert.deepEqual(
        late.map((e) => [e.event, e.id]),
        [[terminal[0]!.event, terminal[0]!.id]],
      );
    });
  },
);

test(
  'SSE: disconnect and reconnect with Last-Event-ID misses nothing and repeats nothing, on this process and on another',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    await withStack({ rejectEvery: 11 }, async (stack, target) => {
      // A second API over the same database and Temporal: "another API process".
      const other = createApp({
        db: stack.db.db,
        client: stack.client,
        batches: stack.batches,
        log: pino({ level: 'silent' }),
        maxBodyBytes: 1 << 20,
      });
      const otherServer: Server = other.listen(0, '127.0.0.1');
      await new Promise<void>((resolve) => otherServer.once('listening', resolve));
      const otherSockets = attachWebSockets(otherServer, other);
      const otherBase = `http://127.0.0.1:${(otherServer.address() as AddressInfo).port}`;
      try {
        const batchId = await submit(stack, { items: items(300), chunk_size: 10, max_parallel_chunks: 1 });
        const steady = await events(stack, batchId);
        const first = await events(stack, batchId);
        const cross = await events(stack, batchId);
        // Drop two clients after they have seen an item fail (more failures are still to come).
        await eventually(
          'the first item_failed',
          () => first.events.some((e) => e.event === 'item_failed') && cross.events.some((e) => e.event === 'item_failed'),
          120_000,
        );
        first.abort();
        cross.abort();
        const seenFirst = [...first.events];
        const seenCross = [...cross.events];
        await sleep(2_500);

        // Same process: the poller's buffer replays exactly what was missed.
        const resumed = await events(stack, batchId, { 'last-event-id': seenFirst[seenFirst.length - 1]!.id });
        // Another process: no buffer there; the id alone says where to continue.
        const resumedElsewhere = await events(stack, batchId, { 'last-event-id': seenCross[seenCross.length - 1]!.id }, otherBase);
        const whole = await untilClosed(steady, 'uninterrupted');
        const rest = await untilClosed(resumed, 'resumed');
        const restElsewhere = await untilClosed(resumedElsewhere, 'resumed elsewhere');

        const failedItems = (await allItems(stack, batchId)).filter((i) => i.status === 'failed').map((i) => i.ref);
        const rejected = [...(target.faults.rejectRefs ?? [])].filter((r) => Number(r.slice(4)) < 300);
        t.diagnostic(
          `uninterrupted: ${whole.length} events, ${failedRefs(whole).length} item_failed; dropped after ${seenFirst.length}, resumed with ${rest.length} here and ${restElsewhere.length} elsewhere`,
        );
        assert.deepEqual(new Set(failedItems), new Set(rejected), 'the rejected refs failed');
        assert.ok(failedRefs(seenFirst).length < failedRefs(whole).length, 'the client was dropped before the last failure');

        // The uninterrupted client: one item_failed per failed item.
        assert.deepEqual([...failedRefs(whole)].sort(), [...failedItems].sort());
        // Here: the union is exactly the uninterrupted stream, ids and all.
        assert.deepEqual(ids([...seenFirst, ...rest]), ids(whole));
        assert.deepEqual([...failedRefs(seenFirst), ...failedRefs(rest)], failedRefs(whole));
        // Elsewhere: every failed item exactly once, no id twice, the same terminal event.
        const unionElsewhere = [...seenCross, ...restElsewhere];
        assert.deepEqual([...failedRefs(seenCross), ...failedRefs(restElsewhere)].sort(), [...failedItems].sort());
        assert.equal(new Set(ids(unionElsewhere)).size, unionElsewhere.length, 'no id repeats');
        assert.deepEqual(
          unionElsewhere.filter((e) => TERMINAL.has(e.event)).map((e) => [e.event, e.id]),
          whole.filter((e) => TERMINAL.has(e.event)).map((e) => [e.event, e.id]),
        );
        assert.ok(TERMINAL.has(restElsewhere[restElsewhere.length - 1]!.event));

        // Reconnecting after the end with an older id: the failures not yet seen, then the terminal event.
        const late = await untilClosed(
          await events(stack, batchId, { 'last-event-id': seenFirst[seenFirst.length - 1]!.id }, otherBase),
          'late resume',
        );
        assert.deepEqual([...failedRefs(seenFirst), ...failedRefs(late)].sort(), [...failedItems].sort());
        assert.equal(late[late.length - 1]!.id, whole[whole.length - 1]!.id);
      } finally {
        await otherSockets.close();
        await new Promise<void>((resolve) => otherServer.close(() => resolve()));
      }
    });
  },
);

test('50 watchers of one batch cost no more progress queries than 1', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const calls = new Map<string, number>();
  const counting = (deps: LiveHubDeps) => {
    const batches: LiveHubDeps['batches'] = {
      ...deps.batches,
      get: (tenantId, batchId) => {
        calls.set(batchId, (calls.get(batchId) ?? 0) + 1);
        return deps.batches.get(tenantId, batchId);
      },
    };
    return createLiveHub({ ...deps, batches });
  };
  await withStack({ live: counting }, async (stack) => {
    const batchId = await submit(stack, { items: items(200), chunk_size: 10, max_parallel_chunks: 1 });
    await pauseAndSettle(stack, batchId);
    const count = (): number => calls.get(batchId) ?? 0;
    const WINDOW_MS = 5_000;

    const watchers = [await events(stack, batchId)];
    await eventually('the first watcher has its first event', () => watchers[0]!.events.length > 0);
    let from = count();
    await sleep(WINDOW_MS);
    const one = count() - from;

    for (let i = 1; i < 50; i++) watchers.push(await events(stack, batchId));
    await eventually('every watcher has its first event', () => watchers.every((w) => w.events.length > 0));
    from = count();
    await sleep(WINDOW_MS);
    const fifty = count() - from;
    t.diagnostic(`progress queries in ${WINDOW_MS} ms: 1 watcher ${one}, 50 watchers ${fifty}`);
    assert.ok(one >= 2, 'the poller polls while someone watches');
    // One poller, polling once a second whoever watches: each window holds WINDOW_MS/1000 ticks,
    // give or take the tick in flight at either edge of the window. Fifty pollers would make ~250.
    assert.ok(fifty <= one + 2, `50 watchers: ${fifty} queries, 1 watcher: ${one}`);
    assert.ok(fifty <= WINDOW_MS / 1000 + 2, `at most one query per tick (${fifty})`);

    await pause(stack, batchId, false);
    const streams = await Promise.all(watchers.map((w, i) => untilClosed(w, `watcher ${i}`)));
    const ends = new Set(streams.map((s) => s[s.length - 1]!.id));
    assert.equal(ends.size, 1, 'every watcher ends on the same terminal event');
    assert.ok(streams.every((s) => TERMINAL.has(s[s.length - 1]!.event)));
    // Everyone joined while nothing moved: they all saw the same events.
    for (const s of streams) assert.deepEqual(ids(s), ids(streams[0]!));

    // The last watcher gone and the batch finished: no more queries.
    const after = count();
    await sleep(2_500);
    assert.equal(count(), after, 'the poller stopped');
  });
});

test(
  'WebSocket: the same events as SSE, one JSON message each, closed with 1000 after the terminal event',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    await withStack({ rejectEvery: 13 }, async (stack) => {
      const batchId = await submit(stack, { items: items(200), chunk_size: 10, max_parallel_chunks: 1 });
      await pauseAndSettle(stack, batchId);
      const wsBase = stack.baseUrl.replace(/^http/, 'ws');
      const sse = await events(stack, batchId);
      await eventually('SSE has its first event', () => sse.events.length > 0);

      const open = (url: string, headers: Record<string, string> = {}) => {
        const ws = new WebSocket(url, { headers });
        const messages: Array<{ type: string; id: string; [k: string]: unknown }> = [];
        ws.on('message', (raw) => messages.push(JSON.parse(String(raw)) as { type: string; id: string }));
        const closed = new Promise<number>((resolve, reject) => {
          ws.on('close', (code) => resolve(code));
          ws.on('error', reject);
        });
        return { ws, messages, closed };
      };
      // The key as a header (servers, CLIs) and as ?api_key= (browsers cannot set headers).
      const byHeader = open(`${wsBase}/v1/batches/${batchId}/ws`, { 'x-api-key': stack.key });
      const byQuery = open(`${wsBase}/v1/batches/${batchId}/ws?api_key=${encodeURIComponent(stack.key)}`);
      await eventually('both sockets have their first message', () => byHeader.messages.length > 0 && byQuery.messages.length > 0);
      await pause(stack, batchId, false);

      const sseEvents = await untilClosed(sse, 'SSE');
      for (const socket of [byHeader, byQuery]) {
        assert.equal(await socket.closed, 1000);
        assert.deepEqual(
          socket.messages.map((m) => [m.type, m.id]),
          sseEvents.map((e) => [e.event, e.id]),
          'the same events, in the same order',
        );
        const last = socket.messages[socket.messages.length - 1]!;
        assert.ok(TERMINAL.has(last.type));
        assert.equal(last.batch_id, batchId);
        assert.equal(last.status, last.type);
        const failed = socket.messages.filter((m) => m.type === 'item_failed');
        assert.ok(failed.length > 0, 'items failed');
        for (const m of failed) assert.ok(typeof m.ref === 'string' && (m.error as { code: string }).code === 'downstream_rejected');
      }

      // Resuming a socket from an id: only what came after it.
      const midway = sseEvents.findIndex((e) => e.event === 'item_failed');
      const resumed = open(`${wsBase}/v1/batches/${batchId}/ws?last_event_id=${sseEvents[midway]!.id}`, { 'x-api-key': stack.key });
      assert.equal(await resumed.closed, 1000);
      assert.deepEqual(
        resumed.messages.filter((m) => m.type === 'item_failed').map((m) => m.ref),
        failedRefs(sseEvents.slice(midway + 1)),
      );
      assert.equal(resumed.messages[resumed.messages.length - 1]!.id, sseEvents[sseEvents.length - 1]!.id);
    });
  },
);

test('another tenant, an unknown batch or no key: the contract errors, before any stream opens', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withStack({}, async (stack) => {
    const batchId = await submit(stack, { items: items(5) });
    const other = await stack.addTenant();
    const wsBase = stack.baseUrl.replace(/^http/, 'ws');

    for (const [id, key, status, code] of [
      [batchId, other.key, 404, 'not_found'],
      ['b_00000000000000000000000000', stack.key, 404, 'not_found'],
      [batchId, 'bf_not_a_key', 401, 'unauthorized'],
    ] as const) {
      const res = await fetch(`${stack.baseUrl}/v1/batches/${id}/events`, { headers: { 'x-api-key': key } });
      assert.equal(res.status, status);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      const body = (await res.json()) as { error: { code: string; request_id: string } };
      assert.equal(body.error.code, code);
      assert.ok(body.error.request_id);

      const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const ws = new WebSocket(`${wsBase}/v1/batches/${id}/ws`, { headers: { 'x-api-key': key } });
        ws.on('unexpected-response', (_req, r) => {
          let text = '';
          r.on('data', (c: Buffer) => (text += c.toString()));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body: text }));
        });
        ws.on('open', () => reject(new Error('the socket opened')));
      });
      assert.equal(refused.status, status);
      assert.equal((JSON.parse(refused.body) as { error: { code: string } }).error.code, code);
    }
    // Without a key at all.
    const res = await fetch(`${stack.baseUrl}/v1/batches/${batchId}/events`);
    assert.equal(res.status, 401);
    await waitForBatch(stack, batchId);
  });
});
