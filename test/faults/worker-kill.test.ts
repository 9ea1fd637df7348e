/**
 * Fault: the only worker process is SIGKILLed mid-batch five times and restarted each time. Work
 * it held is retried once its heartbeats stop; every stage is idempotent on (batch, ref), so the
 * batch completes with each item published once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { temporalAddress } from '../helpers/temporal';
import { startPublishTarget } from '../helpers/publish-target';
import {
  assertFinalState,
  catalogItems,
  finishedItems,
  freePort,
  openCase,
  sharedPostgresUrl,
  submitBatch,
  waitForEnd,
  waitForFinished,
} from '../helpers/faults';

const ITEMS = 1_000;
const KILLS = 5;
// Each kill waits for this many more finished items, so every one lands with work in flight.
const STEP = Math.floor(ITEMS / (KILLS + 3));
const PROGRESS_DEADLINE_MS = 300_000;
const END_DEADLINE_MS = 600_000;

test('SIGKILL the worker five times mid-batch: every item final, each published once', { timeout: 1_800_000 }, async (t) => {
  const fault = await openCase({
    databaseUrl: await sharedPostgresUrl(),
    temporal: await temporalAddress(),
    target: await startPublishTarget({ latencyMs: 5 }),
  });
  try {
    const api = await fault.startApi('api', await freePort());
    const baseUrl = `http://127.0.0.1:${api.port}`;
    let worker = await fault.startWorker('worker-0');
    const { batchId } = await submitBatch(baseUrl, { items: catalogItems(ITEMS), chunk_size: 10, max_parallel_chunks: 4 });

    let last = 0;
    for (let kill = 1; kill <= KILLS; kill++) {
      const reached = await waitForFinished(fault.db, batchId, last + STEP, PROGRESS_DEADLINE_MS, fault);
      const exit = await worker.kill('SIGKILL');
      assert.equal(exit.signal, 'SIGKILL');
      last = await finishedItems(fault.db, batchId);
      t.diagnostic(`kill ${kill}: worker ${worker.pid} killed at ${reached}..${last} of ${ITEMS} finished`);
      assert.ok(last < ITEMS, 'the kill landed mid-batch');
      worker = await fault.startWorker(`worker-${kill}`);
    }

    const end = await waitForEnd(() => baseUrl, batchId, END_DEADLINE_MS, fault);
    assert.equal(end.status, 'completed', fault.output());
    const { checked, duplicates } = await assertFinalState(t, {
      db: fault.db,
      baseUrl,
      batchId,
      total: ITEMS,
      target: fault.target,
      expectStatus: 'completed',
    });
    t.diagnostic(`kills: ${KILLS}; items checked: ${checked}; duplicates found: ${duplicates}`);
  } finally {
    await fault.close();
  }
});
