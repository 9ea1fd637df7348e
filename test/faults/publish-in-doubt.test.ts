/**
 * Fault (issue 13, hole 1): the worker dies after a publish reached the target and before its
 * result was recorded; the batch is then cancelled with rollback before any retry runs. The items
 * whose publish may have been sent are in doubt: compensation must ask the target (repeat the POST
 * with the same Idempotency-Key to learn the id, then DELETE it; for the built-in catalog, look the
 * row up by its key) before it calls them undone. `rolled_back: true` only when nothing is left.
 *
 * Each fault lands on a condition: the HTTP target kills the worker from inside its first 201,
 * before answering; for the catalog, a trigger holds the recording of a publish while the test
 * waits for the catalog row to exist, then kills the worker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { temporalAddress } from '../helpers/temporal';
import { startPublishTarget } from '../helpers/publish-target';
import {
  apiFetch,
  catalogItems,
  freePort,
  openCase,
  sharedPostgresUrl,
  submitBatch,
  waitFor,
  waitForEnd,
  type Child,
  type FaultCase,
} from '../helpers/faults';

const DEADLINE_MS = 300_000;

interface Ended {
  status: string;
  rolled_back: boolean;
  counts: Record<string, number>;
}

/** Items of the batch per the database: status by ref, and how many are recorded published. */
async function itemStates(fault: FaultCase, batchId: string): Promise<Map<string, { status: string; published: boolean }>> {
  const rows = await fault.db.db
    .selectFrom('item_results')
    .select(['ref', 'status', 'published'])
    .where('batch_id', '=', batchId)
    .execute();
  return new Map(rows.map((r) => [r.ref, { status: r.status, published: r.published }]));
}

/** Cancels with rollback while no worker runs, then starts one and waits for the batch's end. */
async function cancelThenRecover(
  fault: FaultCase,
  baseUrl: string,
  batchId: string,
  workerEnv?: Record<string, string>,
): Promise<{ ended: Ended; worker: Child }> {
  const res = await apiFetch(baseUrl, `/v1/batches/${batchId}/cancel`, { method: 'POST', body: JSON.stringify({ rollback: true }) });
  assert.equal(res.status, 202, await res.text());
  const worker = await fault.startWorker('worker-after', workerEnv);
  const ended = (await waitForEnd(() => baseUrl, batchId, DEADLINE_MS, fault)) as unknown as Ended;
  return { ended, worker };
}

test(
  'HTTP target: the worker dies inside the target’s 201, the batch is cancelled with rollback; the target keeps nothing',
  { timeout: 900_000 },
  async (t) => {
    let killing: Promise<unknown> | undefined;
    let worker: Child | undefined;
    const target = await startPublishTarget({
      // The first create kills the worker before its answer leaves; the others wait for that.
      beforeAnswer: async () => {
        killing ??= worker!.kill('SIGKILL');
        await killing;
      },
    });
    const fault = await openCase({ databaseUrl: await sharedPostgresUrl(), temporal: await temporalAddress(), target });
    try {
      const api = await fault.startApi('api', await freePort());
      const baseUrl = `http://127.0.0.1:${api.port}`;
      worker = await fault.startWorker('worker-0');
      const { batchId } = await submitBatch(baseUrl, { items: catalogItems(20), chunk_size: 10, max_parallel_chunks: 1 });

      await waitFor('the worker killed inside a 201', async () => (killing ? killing : undefined), DEADLINE_MS, fault);
      target.faults.beforeAnswer = undefined;
      const created = [...target.items.values()].map((i) => i.ref);
      const before = await itemStates(fault, batchId);
      t.diagnostic(
        `created at the target before the kill: ${created.length} (${created.join(', ')}); recorded published: ${[...before.values()].filter((s) => s.published).length}`,
      );
      assert.ok(created.length > 0);
      for (const ref of created) assert.equal(before.get(ref)?.published, false, `${ref}: its publish is not recorded`);

      const { ended } = await cancelThenRecover(fault, baseUrl, batchId);
      const after = await itemStates(fault, batchId);
      t.diagnostic(
        `ended ${ended.status}, rolled_back ${ended.rolled_back}; in-doubt items now: ${created.map((r) => `${r}=${after.get(r)?.status}`).join(', ')}`,
      );
      assert.equal(ended.status, 'cancelled');
      assert.equal(target.items.size, 0, `the target still holds ${JSON.stringify([...target.items.values()])}`);
      for (const ref of created)
        assert.ok(
          target.deletes.some((d) => d.status === 204 && target.creates.some((c) => c.ref === ref)),
          `${ref} was deleted`,
        );
      assert.equal(ended.counts.orphaned ?? 0, 0);
      assert.equal(ended.rolled_back, true);
      for (const ref of created) assert.notEqual(after.get(ref)?.status, 'succeeded');
    } finally {
      await fault.close();
    }
  },
);

test(
  'built-in catalog: the worker dies between the catalog row and its recorded result, then cancel with rollback; no row is left',
  { timeout: 900_000 },
  async (t) => {
    const target = await startPublishTarget();
    const fault = await openCase({ databaseUrl: await sharedPostgresUrl(), temporal: await temporalAddress(), target });
    const lockKey = randomInt(1, 2 ** 31 - 1);
    // A session of the test's own holds an advisory lock; the trigger makes every write that records
    // a publish wait for it, so the worker is caught after its catalog insert committed.
    const holder = new pg.Client({ connectionString: fault.db.url });
    await holder.connect();
    try {
      await sql
        .raw(
          `create function hold_publish() returns trigger language plpgsql as $$ begin perform pg_advisory_xact_lock(${lockKey}); return new; end $$;
         create trigger hold_publish before insert or update on item_results for each row when (new.published) execute function hold_publish();`,
        )
        .execute(fault.db.db);
      await holder.query('select pg_advisory_lock($1)', [lockKey]);

      const api = await fault.startApi('api', await freePort());
      const baseUrl = `http://127.0.0.1:${api.port}`;
      // No PUBLISH_URL: the embedded default, the built-in catalog.
      const catalog = { PUBLISH_URL: '' };
      const worker = await fault.startWorker('worker-0', catalog);
      const { batchId } = await submitBatch(baseUrl, { items: catalogItems(20), chunk_size: 10, max_parallel_chunks: 1 });

      const rows = async (): Promise<number> =>
        Number(
          (await sql<{ n: string }>`select count(*) as n from catalog_items where batch_id = ${batchId}`.execute(fault.db.db)).rows[0]!.n,
        );
      const inCatalog = await waitFor('catalog rows of the batch', async () => (await rows()) || undefined, DEADLINE_MS, fault);
      await worker.kill('SIGKILL');
      // A backend waiting on a lock does not notice its client is gone: once let go it would still
      // commit the write. End those sessions first, as a crash of the database connection would.
      const waiting = await holder.query<{ pid: number }>(
        `select pid from pg_locks where locktype = 'advisory' and objid = $1 and not granted`,
        [lockKey],
      );
      for (const { pid } of waiting.rows) await holder.query('select pg_terminate_backend($1)', [pid]);
      await holder.query('select pg_advisory_unlock($1)', [lockKey]);
      await sql.raw('drop trigger hold_publish on item_results').execute(fault.db.db);
      const before = await itemStates(fault, batchId);
      t.diagnostic(
        `catalog rows before the kill: ${inCatalog}; sessions ended while waiting: ${waiting.rows.length}; recorded published: ${[...before.values()].filter((s) => s.published).length}`,
      );
      assert.equal([...before.values()].filter((s) => s.published).length, 0, 'no publish was recorded');

      const { ended } = await cancelThenRecover(fault, baseUrl, batchId, catalog);
      t.diagnostic(`ended ${ended.status}, rolled_back ${ended.rolled_back}; catalog rows left: ${await rows()}`);
      assert.equal(ended.status, 'cancelled');
      assert.equal(await rows(), 0, 'the catalog keeps nothing of the batch');
      assert.equal(ended.counts.orphaned ?? 0, 0);
      assert.equal(ended.rolled_back, true);
    } finally {
      await holder.end().catch(() => {});
      await fault.close();
    }
  },
);
