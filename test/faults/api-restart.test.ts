/**
 * Fault: the API process is SIGKILLed mid-batch and started again on the same port, while an SSE
 * client follows the batch. The client reconnects with Last-Event-ID (as EventSource does) until
 * the terminal event; the batch itself never notices, since it runs in the worker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSse, type SseEvent } from '../helpers/sse';
import { temporalAddress } from '../helpers/temporal';
import { startPublishTarget } from '../helpers/publish-target';
import {
  DEV_KEY,
  FINAL_BATCH,
  assertFinalState,
  catalogItems,
  finishedItems,
  freePort,
  openCase,
  sharedPostgresUrl,
  sleep,
  submitBatch,
  waitFor,
  waitForEnd,
  waitForFinished,
} from '../helpers/faults';

const ITEMS = 800;
const FOLLOW_DEADLINE_MS = 600_000;

/** One SSE client that reconnects with the last id it saw until it has the terminal event. */
function follow(url: string): { connections: SseEvent[][]; done: Promise<void> } {
  const connections: SseEvent[][] = [];
  const done = (async () => {
    const deadline = Date.now() + FOLLOW_DEADLINE_MS;
    let lastId = '';
    while (Date.now() < deadline) {
      try {
        const stream = await openSse(url, { 'x-api-key': DEV_KEY, ...(lastId ? { 'last-event-id': lastId } : {}) });
        // 204: the id named the terminal event; EventSource stops here.
        if (stream.status === 204) return;
        assert.equal(stream.status, 200);
        connections.push(stream.events);
        // A killed API cuts the stream: the read fails rather than ends.
        await stream.closed.catch(() => {});
        lastId = stream.events.at(-1)?.id ?? lastId;
        if (stream.events.some((e) => FINAL_BATCH.includes(e.event))) return;
      } catch {
        // Refused: the API is not back yet.
      }
      // The stream's own `retry:` advice is 2 s.
      await sleep(1_000);
    }
    throw new Error('the SSE client did not see the batch end');
  })();
  return { connections, done };
}

test(
  'API SIGKILLed and restarted mid-batch: an SSE client reconnects with Last-Event-ID and sees the end',
  { timeout: 1_200_000 },
  async (t) => {
    const fault = await openCase({
      databaseUrl: await sharedPostgresUrl(),
      temporal: await temporalAddress(),
      target: await startPublishTarget({ latencyMs: 5 }),
    });
    try {
      const port = await freePort();
      const api = await fault.startApi('api-0', port);
      const baseUrl = `http://127.0.0.1:${port}`;
      await fault.startWorker('worker');
      const { batchId } = await submitBatch(baseUrl, { items: catalogItems(ITEMS), chunk_size: 10, max_parallel_chunks: 4 });
      const watcher = follow(`${baseUrl}/v1/batches/${batchId}/events`);

      await waitForFinished(fault.db, batchId, Math.floor(ITEMS / 3), 300_000, fault);
      await waitFor(
        'a progress event on the first connection',
        async () => watcher.connections[0]?.some((e) => e.event === 'progress'),
        60_000,
      );
      const exit = await api.kill('SIGKILL');
      assert.equal(exit.signal, 'SIGKILL');
      const atKill = await finishedItems(fault.db, batchId);
      t.diagnostic(`API ${api.pid} killed at ${atKill} of ${ITEMS} finished`);
      assert.ok(atKill < ITEMS, 'the restart landed mid-batch');
      await fault.startApi('api-1', port);

      await watcher.done;
      const end = await waitForEnd(() => baseUrl, batchId, 600_000, fault);
      assert.equal(end.status, 'completed');
      const events = watcher.connections.flat();
      assert.ok(watcher.connections.length >= 2, 'the client reconnected');
      assert.equal(events.at(-1)?.event, 'completed', 'the last event is the terminal one');
      assert.equal(events.filter((e) => FINAL_BATCH.includes(e.event)).length, 1, 'one terminal event');
      // Ids are `<failed>.<done>.<digest>`: across the reconnect nothing goes back or repeats.
      const done = events.map((e) => Number(e.id.split('.')[1]));
      assert.deepEqual(
        done,
        [...done].sort((a, b) => a - b),
        'finished counts never go back across the reconnect',
      );
      assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'no event is sent twice');
      t.diagnostic(
        `SSE: ${watcher.connections.length} connections, events per connection ${watcher.connections.map((c) => c.length).join('/')}, first id per connection ${watcher.connections.map((c) => c[0]?.id).join(' ')}`,
      );

      const { checked, duplicates } = await assertFinalState(t, {
        db: fault.db,
        baseUrl,
        batchId,
        total: ITEMS,
        target: fault.target,
        expectStatus: 'completed',
      });
      t.diagnostic(`items checked: ${checked}; duplicates found: ${duplicates}`);
    } finally {
      await fault.close();
    }
  },
);
