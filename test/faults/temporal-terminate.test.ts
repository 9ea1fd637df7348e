/**
 * Fault: an operator terminates batch workflows from Temporal (what the UI's and the CLI's
 * "terminate" do). One batch is still queued (no worker has picked it up), one is running with
 * items published. The API's reconcile loop ends each as `failed` with error `terminated`: its
 * unfinished items fail retryable, its active slot frees, and nothing starts it again. A
 * retry-failed then redrives each to completion, every item published once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { connectTemporal, temporalAddress } from '../helpers/temporal';
import { startPublishTarget } from '../helpers/publish-target';
import {
  apiFetch,
  assertFinalState,
  catalogItems,
  finishedItems,
  freePort,
  openCase,
  sharedPostgresUrl,
  submitBatch,
  waitFor,
  waitForEnd,
  waitForFinished,
  type SchemaDb,
} from '../helpers/faults';

const QUEUED_ITEMS = 40;
const RUNNING_ITEMS = 400;
/** The running batch is terminated once this many of its items have finished. */
const TERMINATE_AT = 100;
// Tuning: a pass every 2 s, not every minute, so the case waits seconds for the loop. The loop
// under test is the same.
const RECONCILE_INTERVAL_MS = 2_000;
/** Two slots: after the terminations both must be free again. */
const MAX_ACTIVE = 2;
const WAIT_MS = 300_000;

interface Batch {
  status: string;
  error: { code: string; message: string } | null;
  counts: Record<string, number>;
}

const PASS_LINE = '"msg":"reconcile pass"';

/** When a log line was written (pino's `time`); 0 for a line cut short by the log buffer. */
function passTime(line: string): number {
  try {
    return (JSON.parse(line) as { time: number }).time;
  } catch {
    return 0;
  }
}

/** Catalog items with refs of the batch's own: the target counts live items by ref across batches. */
const itemsOf = (prefix: string, n: number): Array<{ ref: string; text: string }> =>
  catalogItems(n).map((i) => ({ ...i, ref: `${prefix}-${i.ref}` }));

/** Item statuses and error codes of a batch, per the database: `status/code` → count. */
async function itemTally(db: SchemaDb, batchId: string): Promise<Record<string, number>> {
  const { rows } = await sql<{ k: string; n: number }>`
    select coalesce(r.status, 'pending') || coalesce('/' || (r.error->>'code') || '/' || (r.error->>'retryable'), '') as k, count(*)::int as n
    from batch_items i left join item_results r on r.batch_id = i.batch_id and r.seq = i.seq
    where i.batch_id = ${batchId} group by 1 order by 1`.execute(db.db);
  return Object.fromEntries(rows.map((r) => [r.k, r.n]));
}

const activeBatches = async (db: SchemaDb): Promise<number> =>
  Number(
    (
      await db.db
        .selectFrom('batches')
        .select(sql<number>`count(*)`.as('n'))
        .where('status', 'in', ['queued', 'running', 'paused', 'cancelling'])
        .executeTakeFirstOrThrow()
    ).n,
  );

test(
  'a queued and a running batch terminated from Temporal: each row becomes failed, its slot frees, and nothing restarts it',
  { timeout: 1_200_000 },
  async (t) => {
    const fault = await openCase({
      databaseUrl: await sharedPostgresUrl(),
      temporal: await temporalAddress(),
      target: await startPublishTarget({ latencyMs: 20 }),
    });
    const temporal = await connectTemporal();
    try {
      // LOG_LEVEL=debug: the loop's quiet passes are logged too, so the case can count them.
      const api = await fault.startApi('api', await freePort(), {
        RECONCILE_INTERVAL_MS: String(RECONCILE_INTERVAL_MS),
        MAX_ACTIVE_BATCHES: String(MAX_ACTIVE),
        LOG_LEVEL: 'debug',
      });
      const baseUrl = `http://127.0.0.1:${api.port}`;
      const get = async (id: string): Promise<Batch> => (await (await apiFetch(baseUrl, `/v1/batches/${id}`)).json()) as Batch;

      // 1. No worker yet: the batch stays queued under a running workflow. Terminated once its row
      //    says queued and its workflow runs.
      const queued = await submitBatch(baseUrl, { items: itemsOf('queued', QUEUED_ITEMS), chunk_size: 10 });
      const queuedHandle = temporal.client.workflow.getHandle(queued.workflowId);
      const queuedRun = await waitFor(
        'the queued batch to have a running workflow',
        async () => {
          const d = await queuedHandle.describe();
          return d.status.name === 'RUNNING' && (await get(queued.batchId)).status === 'queued' ? d.runId : undefined;
        },
        WAIT_MS,
        fault,
      );
      await queuedHandle.terminate('an operator, from the Temporal UI');

      // 2. A worker, and a batch that runs: terminated once its row says running and TERMINATE_AT items finished.
      await fault.startWorker('worker');
      const running = await submitBatch(baseUrl, { items: itemsOf('running', RUNNING_ITEMS), chunk_size: 10, max_parallel_chunks: 2 });
      await waitForFinished(fault.db, running.batchId, TERMINATE_AT, WAIT_MS, fault);
      await waitFor(
        "the running batch's row to say running",
        async () => (await get(running.batchId)).status === 'running',
        WAIT_MS,
        fault,
      );
      const runningHandle = temporal.client.workflow.getHandle(running.workflowId);
      const runningRun = (await runningHandle.describe()).runId;
      await runningHandle.terminate('an operator, from the Temporal CLI');
      const atTerminate = await finishedItems(fault.db, running.batchId);
      t.diagnostic(`running batch terminated at ${atTerminate} of ${RUNNING_ITEMS} finished`);
      assert.ok(atTerminate < RUNNING_ITEMS, 'the termination landed mid-batch');

      // 3. The loop ends both: failed, error terminated.
      const ended: Record<string, Batch> = {};
      for (const b of [queued, running]) {
        ended[b.batchId] = await waitFor(
          `batch ${b.batchId} to be failed`,
          async () => {
            const body = await get(b.batchId);
            return body.status === 'failed' ? body : undefined;
          },
          WAIT_MS,
          fault,
        );
        const body = ended[b.batchId]!;
        assert.equal(body.error?.code, 'terminated', JSON.stringify(body.error));
        assert.match(body.error!.message, /TERMINATED/);
        assert.equal(body.counts.pending ?? 0, 0);
        assert.match(
          api.output(),
          new RegExp(`"batchId":"${b.batchId}".*"msg":"batch failed: its workflow ended without it`),
          'the operator sees a log line naming the batch',
        );
      }
      const reconciledAt = Date.now();

      // Every item is final: those no stage finished failed `terminated`, retryable; the rest kept theirs.
      const queuedItems = await itemTally(fault.db, queued.batchId);
      assert.deepEqual(queuedItems, { 'failed/terminated/true': QUEUED_ITEMS });
      const runningItems = await itemTally(fault.db, running.batchId);
      t.diagnostic(
        `items after reconciliation: queued batch ${JSON.stringify(queuedItems)}; running batch ${JSON.stringify(runningItems)}`,
      );
      const succeeded = runningItems.succeeded ?? 0;
      assert.ok(
        succeeded >= atTerminate && succeeded < RUNNING_ITEMS,
        `succeeded: ${succeeded}, ${atTerminate} finished at the termination`,
      );
      assert.equal(succeeded + (runningItems['failed/terminated/true'] ?? 0), RUNNING_ITEMS, JSON.stringify(runningItems));

      // 4. Their slots are free: nothing else is active, and the key's two slots both take a batch.
      assert.equal(await activeBatches(fault.db), 0);
      const fresh = [
        await submitBatch(baseUrl, { items: itemsOf('fresh-a', 4) }),
        await submitBatch(baseUrl, { items: itemsOf('fresh-b', 4) }),
      ];

      // 5. Nothing restarts them: two more passes of the loop after both ended, and each workflow is
      //    still the one run that was terminated.
      await waitFor(
        'two reconcile passes after the batches ended',
        async () => {
          const passes = api
            .output()
            .split('\n')
            .filter((l) => l.includes(PASS_LINE) && passTime(l) > reconciledAt);
          return passes.length >= 2;
        },
        WAIT_MS,
        fault,
      );
      for (const [handle, runId] of [
        [queuedHandle, queuedRun],
        [runningHandle, runningRun],
      ] as const) {
        const d = await handle.describe();
        assert.equal(d.status.name, 'TERMINATED');
        assert.equal(d.runId, runId, 'no new run was started');
      }
      for (const b of [queued, running]) assert.equal((await get(b.batchId)).status, 'failed');
      for (const b of fresh) assert.equal((await waitForEnd(() => baseUrl, b.batchId, WAIT_MS, fault)).status, 'completed');

      // 6. Nothing orphaned: retry-failed redrives each terminated batch (a new run of the same
      //    workflow id), and every item ends published exactly once.
      for (const b of [queued, running]) {
        const res = await apiFetch(baseUrl, `/v1/batches/${b.batchId}/retry-failed`, { method: 'POST', body: '{}' });
        assert.equal(res.status, 202, await res.text());
      }
      for (const [b, total] of [
        [queued, QUEUED_ITEMS],
        [running, RUNNING_ITEMS],
      ] as const) {
        const end = await waitForEnd(() => baseUrl, b.batchId, WAIT_MS, fault);
        assert.equal(end.status, 'completed', JSON.stringify(end.counts));
        await assertFinalState(t, { db: fault.db, baseUrl, batchId: b.batchId, total, target: fault.target, expectStatus: 'completed' });
      }
    } finally {
      await temporal.close();
      await fault.close();
    }
  },
);
