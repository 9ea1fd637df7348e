/**
 * Progress reads share one poller per batch (src/batches/progress-cache.ts): 50 clients reading a
 * running batch at once cause at most one workflow query per poll interval, on the shipped
 * PROGRESS_POLL_MS, and every answer says how old its snapshot is. Counts, not durations: a busy
 * machine can only make fewer queries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config';
import { progressQueriesTotal } from '../../src/metrics/registry';
import { startPublishTarget } from '../helpers/publish-target';
import { items, startStack } from '../helpers/stack';
import { eventually, sleep, submit } from '../helpers/api';

const READERS = 50;
const ROUNDS = 6;

interface Body {
  status: string;
  counts: Record<string, number>;
  progress_as_of: string | null;
}

const queries = async (): Promise<number> => (await progressQueriesTotal.get()).values.reduce((sum, v) => sum + v.value, 0);

test(
  `${READERS} concurrent readers of a running batch cause at most one progress query per poll interval`,
  { timeout: 240_000 },
  async (t) => {
    const intervalMs = loadConfig({}).progressPollMs;
    const target = await startPublishTarget({ latencyMs: 25 });
    const stack = await startStack({ publishUrl: target.url });
    try {
      const batchId = await submit(stack, { items: items(200), chunk_size: 10, max_parallel_chunks: 1 });
      const read = async (): Promise<Body> => {
        const res = await stack.api(`/v1/batches/${batchId}`);
        assert.equal(res.status, 200);
        return (await res.json()) as Body;
      };
      // Paused, the batch stays running in Temporal (its workflow answers queries) however slow the machine is.
      await eventually('the batch to run', async () => (await read()).status === 'running');
      assert.equal((await stack.api(`/v1/batches/${batchId}/pause`, { method: 'POST' })).status, 202);
      await eventually('the pause to show', async () => (await read()).status === 'paused');

      const before = await queries();
      const started = Date.now();
      const bodies: Body[] = [];
      const ages: number[] = [];
      const timedRead = async (): Promise<void> => {
        const body = await read();
        bodies.push(body);
        if (body.progress_as_of) ages.push(Date.now() - Date.parse(body.progress_as_of));
      };
      for (let round = 0; round < ROUNDS; round++) {
        await Promise.all(Array.from({ length: READERS }, timedRead));
        await sleep(intervalMs / 2);
      }
      const elapsed = Date.now() - started;
      const asked = (await queries()) - before;
      t.diagnostic(`${bodies.length} reads in ${elapsed} ms caused ${asked} progress queries (poll interval ${intervalMs} ms)`);

      assert.ok(
        bodies.every((b) => b.status === 'paused' && b.progress_as_of !== null),
        'every read answered from a snapshot of the workflow',
      );
      assert.ok(asked >= 1, 'the poller asks the workflow while the batch is read');
      assert.ok(asked <= Math.ceil(elapsed / intervalMs) + 1, `${asked} queries for ${bodies.length} reads in ${elapsed} ms`);
      t.diagnostic(`snapshot age when read: up to ${Math.max(...ages)} ms`);

      assert.equal((await stack.api(`/v1/batches/${batchId}/resume`, { method: 'POST' })).status, 202);
      await eventually('the batch to finish', async () => (await read()).status === 'completed', 180_000);
      assert.equal((await read()).progress_as_of, null, 'a finished batch is read from its row');
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);
