/**
 * Fault: the Temporal dev server is stopped mid-batch and started again on the same address and
 * the same database file. This case runs its OWN dev server (never the suite's shared one): the
 * worker and the API ride out the outage on their connections, and the batch carries on from the
 * history kept in the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { startPublishTarget } from '../helpers/publish-target';
import {
  assertFinalState,
  catalogItems,
  finishedItems,
  freePort,
  openCase,
  sharedPostgresUrl,
  submitBatch,
  tempDataDir,
  waitForEnd,
  waitForFinished,
} from '../helpers/faults';

const ITEMS = 800;

test(
  'Temporal dev server (file database) stopped and restarted mid-batch: every item final, each published once',
  { timeout: 1_200_000 },
  async (t) => {
    const files = tempDataDir();
    const dbFilename = path.join(files.dir, 'temporal.db');
    const port = await freePort();
    let server: DevServer | undefined = await startDevServer({ dbFilename, port });
    const fault = await openCase({
      databaseUrl: await sharedPostgresUrl(),
      temporal: { address: server.address, namespace: server.namespace },
      target: await startPublishTarget({ latencyMs: 5 }),
    });
    try {
      const api = await fault.startApi('api', await freePort());
      const baseUrl = `http://127.0.0.1:${api.port}`;
      await fault.startWorker('worker');
      const { batchId } = await submitBatch(baseUrl, { items: catalogItems(ITEMS), chunk_size: 10, max_parallel_chunks: 4 });

      await waitForFinished(fault.db, batchId, Math.floor(ITEMS / 3), 300_000, fault);
      const address = server.address;
      await server.stop();
      server = undefined;
      const atStop = await finishedItems(fault.db, batchId);
      t.diagnostic(`dev server stopped at ${atStop} of ${ITEMS} finished`);
      assert.ok(atStop < ITEMS, 'the restart landed mid-batch');
      server = await startDevServer({ dbFilename, port });
      assert.equal(server.address, address, 'the server came back on the same address');

      const end = await waitForEnd(() => baseUrl, batchId, 600_000, fault);
      assert.equal(end.status, 'completed', fault.output());
      for (const child of fault.children) assert.ok(await isRunning(child.pid), `${child.name} survived the outage`);
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
      await server?.stop();
      files.remove();
    }
  },
);

async function isRunning(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
