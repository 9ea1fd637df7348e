/**
 * Fault: two worker processes share the task queue; one is SIGKILLed mid-batch and never comes
 * back. The other takes over its chunks (once their heartbeats stop) and finishes the batch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectTemporal, temporalAddress } from '../helpers/temporal';
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

const ITEMS = 800;
const END_DEADLINE_MS = 600_000;

test('two workers, one SIGKILLed mid-batch: the other finishes it, each item published once', { timeout: 1_200_000 }, async (t) => {
  const fault = await openCase({
    databaseUrl: await sharedPostgresUrl(),
    temporal: await temporalAddress(),
    target: await startPublishTarget({ latencyMs: 5 }),
  });
  const temporal = await connectTemporal();
  try {
    const api = await fault.startApi('api', await freePort());
    const baseUrl = `http://127.0.0.1:${api.port}`;
    const [doomed, survivor] = await Promise.all([fault.startWorker('worker-a'), fault.startWorker('worker-b')]);
    const { batchId, workflowId } = await submitBatch(baseUrl, { items: catalogItems(ITEMS), chunk_size: 10, max_parallel_chunks: 4 });

    await waitForFinished(fault.db, batchId, Math.floor(ITEMS / 4), 300_000, fault);
    const exit = await doomed!.kill('SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');
    const atKill = await finishedItems(fault.db, batchId);
    const killedAt = Date.now();
    t.diagnostic(`worker ${doomed!.pid} killed at ${atKill} of ${ITEMS} finished`);
    assert.ok(atKill < ITEMS, 'the kill landed mid-batch');

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

    // Who ran the activities that started after the kill: the survivor only.
    const after = new Map<string, number>();
    const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
    for (const event of history.events ?? []) {
      const started = event.activityTaskStartedEventAttributes;
      const at = Number(event.eventTime?.seconds ?? 0) * 1000;
      if (!started || at < killedAt) continue;
      after.set(started.identity ?? '?', (after.get(started.identity ?? '?') ?? 0) + 1);
    }
    t.diagnostic(
      `activities started after the kill, by worker: ${JSON.stringify(Object.fromEntries(after))}; items checked: ${checked}; duplicates found: ${duplicates}`,
    );
    assert.ok((after.get(survivor!.identity) ?? 0) > 0, 'the surviving worker ran work after the kill');
    assert.equal(after.get(doomed!.identity) ?? 0, 0, 'nothing started on the killed worker after the kill');
  } finally {
    await temporal.close();
    await fault.close();
  }
});
