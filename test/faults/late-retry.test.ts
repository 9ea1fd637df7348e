/**
 * Fault (issue 13, hole 4): `retry-failed` accepted in the last moment of a run. Its handler resets
 * the failed items through an activity; the run must wait for it before it counts, and then run the
 * items it put back, or they stay `pending` in a batch that says it is over.
 *
 * The race is made to happen, on conditions: the test holds a row lock on the failed item, so the
 * handler's reset waits in the database while the last chunk (held at the target until then)
 * finishes and the run reaches its end. Only then is the lock let go.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PROGRESS_QUERY, workflowIdFor, type Progress } from '../../src/contracts/workflow';
import { connectTemporal, temporalAddress } from '../helpers/temporal';
import { startPublishTarget } from '../helpers/publish-target';
import {
  apiFetch,
  catalogItems,
  FINAL_BATCH,
  freePort,
  openCase,
  sharedPostgresUrl,
  submitBatch,
  waitFor,
  waitForEnd,
} from '../helpers/faults';

const DEADLINE_MS = 300_000;
const ITEMS = 30;
const LAST_REF = `sku-${ITEMS - 1}`;

test(
  'retry-failed sent as the batch finishes: the run waits for it, every reset item runs, and the counts add up',
  { timeout: 900_000 },
  async (t) => {
    let openGate!: () => void;
    const gate = new Promise<void>((r) => (openGate = r));
    let held = false;
    const target = await startPublishTarget({
      rejectRefs: new Set(['sku-1']),
      beforeAnswer: async ({ ref }) => {
        if (ref !== LAST_REF) return;
        held = true;
        await gate;
      },
    });
    const temporal = await temporalAddress();
    const fault = await openCase({ databaseUrl: await sharedPostgresUrl(), temporal, target });
    const { client, close } = await connectTemporal(temporal);
    const holder = new pg.Client({ connectionString: fault.db.url });
    await holder.connect();
    try {
      const api = await fault.startApi('api', await freePort());
      const baseUrl = `http://127.0.0.1:${api.port}`;
      await fault.startWorker('worker-0');
      const { batchId } = await submitBatch(baseUrl, { items: catalogItems(ITEMS), chunk_size: 10, max_parallel_chunks: 1 });

      // The last chunk is at the target, sku-1 has failed: lock its row, then ask for the retry.
      await waitFor('the last chunk held at the target', async () => held || undefined, DEADLINE_MS, fault);
      await holder.query('begin');
      const locked = await holder.query(`select seq from item_results where batch_id = $1 and status = 'failed' for update`, [batchId]);
      assert.equal(locked.rowCount, 1, 'sku-1 failed');
      const retry = apiFetch(baseUrl, `/v1/batches/${batchId}/retry-failed`, { method: 'POST' });
      await waitFor(
        'the reset waiting on the lock',
        async () => {
          const { rows } = await holder.query<{ n: string }>(
            `select count(*) as n from pg_locks l join pg_stat_activity a using (pid) where not l.granted and a.query ilike '%with reset as%'`,
          );
          return Number(rows[0]!.n) > 0 || undefined;
        },
        DEADLINE_MS,
        fault,
      );

      // Now the last chunk finishes, and the run comes to its end with the handler still at work.
      target.faults.rejectRefs = new Set();
      openGate();
      const handle = client.workflow.getHandle(workflowIdFor(batchId));
      const reachedEnd = await waitFor(
        'the run at its end',
        async () => {
          const row = await fault.db.db.selectFrom('batches').select('status').where('id', '=', batchId).executeTakeFirstOrThrow();
          if (FINAL_BATCH.includes(row.status)) return `row ${row.status}`;
          const p = await handle.query<Progress>(PROGRESS_QUERY);
          return p.chunks.done === p.chunks.total && p.chunks.in_flight === 0
            ? `all ${p.chunks.total} chunks done, the row ${row.status}`
            : undefined;
        },
        DEADLINE_MS,
        fault,
      );
      await holder.query('rollback');
      const answer = await retry;
      const retried = (await answer.json()) as { retried: number };
      t.diagnostic(`the lock let go at: ${reachedEnd}; retry-failed answered ${answer.status} ${JSON.stringify(retried)}`);
      assert.equal(answer.status, 202);
      assert.equal(retried.retried, 1);

      const ended = (await waitForEnd(() => baseUrl, batchId, DEADLINE_MS, fault)) as unknown as {
        status: string;
        counts: Record<string, number>;
      };
      const items = await fault.db.db.selectFrom('item_results').select(['ref', 'status']).where('batch_id', '=', batchId).execute();
      const byStatus = items.reduce<Record<string, number>>((acc, i) => ({ ...acc, [i.status]: (acc[i.status] ?? 0) + 1 }), {});
      t.diagnostic(`ended ${ended.status}; counts ${JSON.stringify(ended.counts)}; items by status ${JSON.stringify(byStatus)}`);
      assert.equal(ended.status, 'completed');
      assert.deepEqual(byStatus, { succeeded: ITEMS });
      assert.equal(ended.counts.pending, 0);
      assert.equal(ended.counts.failed, 0);
      assert.equal(ended.counts.published, ITEMS);
      assert.equal(target.countByRef().get('sku-1'), 1, 'the reset item ran and was published once');
    } finally {
      await holder.end().catch(() => {});
      await close();
      await fault.close();
    }
  },
);
