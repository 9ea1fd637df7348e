/**
 * Fault: PostgreSQL is restarted mid-batch (`pg_ctlcluster … restart`). Never the shared cluster on
 * 5432: the case creates a cluster of its own (test/helpers/pg-cluster.ts), runs the API and the
 * worker on it, and drops it at the end. Without the PostgreSQL tools it fails, saying so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { temporalAddress } from '../helpers/temporal';
import { startPublishTarget } from '../helpers/publish-target';
import { createCluster } from '../helpers/pg-cluster';
import {
  assertFinalState,
  catalogItems,
  finishedItems,
  freePort,
  openCase,
  submitBatch,
  waitFor,
  waitForEnd,
  waitForFinished,
} from '../helpers/faults';

const ITEMS = 800;

test('PostgreSQL (a dedicated cluster) restarted mid-batch: every item final, each published once', { timeout: 1_200_000 }, async (t) => {
  const cluster = await createCluster('batchflow_faults');
  try {
    t.diagnostic(`cluster ${cluster.version}/${cluster.name} at ${cluster.url}`);
    const fault = await openCase({
      databaseUrl: cluster.url,
      temporal: await temporalAddress(),
      target: await startPublishTarget({ latencyMs: 5 }),
    });
    try {
      const api = await fault.startApi('api', await freePort());
      const baseUrl = `http://127.0.0.1:${api.port}`;
      await fault.startWorker('worker');
      const { batchId } = await submitBatch(baseUrl, { items: catalogItems(ITEMS), chunk_size: 10, max_parallel_chunks: 4 });

      await waitForFinished(fault.db, batchId, Math.floor(ITEMS / 3), 300_000, fault);
      const before = await finishedItems(fault.db, batchId);
      await cluster.restart();
      t.diagnostic(`PostgreSQL restarted at ${before} of ${ITEMS} finished`);
      assert.ok(before < ITEMS, 'the restart landed mid-batch');
      // The test's own pool meets the dropped connections too; waitFor counts those as "not yet".
      await waitFor('the database to answer again', async () => (await finishedItems(fault.db, batchId)) >= 0, 120_000);

      const end = await waitForEnd(() => baseUrl, batchId, 600_000, fault);
      assert.equal(end.status, 'completed', fault.output());
      for (const child of fault.children) assert.doesNotThrow(() => process.kill(child.pid, 0), `${child.name} survived the restart`);
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
  } finally {
    await cluster.drop();
  }
});
