/**
 * The batch workflow on the real Temporal dev server: a worker on its own task queue, the real
 * activities over a fresh database, and (where publishing matters) a real HTTP publish target on
 * loopback. Assertions are on end states — the database, the target, the workflow history — never
 * on speed; waits are bounded generously.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@temporalio/client';
import type { History } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { ulid } from 'ulid';
import {
  emptyCounts,
  PROGRESS_QUERY,
  STAGES,
  workflowIdFor,
  type BatchOptions,
  type BatchSummary,
  type BatchWorkflowInput,
  type Progress,
  type RetryPolicies,
} from '../../src/contracts/workflow';
import { insertBatch } from '../../src/db/batches';
import { startPublishTarget, type PublishTarget } from '../helpers/publish-target';
import { FAST_RETRY, SHIPPED, items, startStack, waitForBatch, type Stack } from '../helpers/stack';
import {
  allItems,
  assertExecutionCancelled,
  eventually,
  getBatch,
  seeded,
  sleep,
  submit,
  type BatchBody,
  type ItemBody,
} from '../helpers/api';

// The SDK logs every retried activity at WARN; the transient-failure test makes hundreds on purpose.
// Installed before this file's first connection; TEST_SDK_LOG_LEVEL=INFO brings them back.
Runtime.install({ logger: new DefaultLogger((process.env.TEST_SDK_LOG_LEVEL as LogLevel | undefined) ?? 'ERROR') });

const TEST_TIMEOUT_MS = 180_000;
const STAGE_ACTIVITIES = new Set<string>(STAGES);

type HistoryEvent = NonNullable<History['events']>[number];

const byStatus = (list: ItemBody[]): Record<string, number> =>
  list.reduce<Record<string, number>>((acc, i) => ((acc[i.status] = (acc[i.status] ?? 0) + 1), acc), {});

/**
 * Inserts the batch rows (as src/batches/submit.ts does) and starts the workflow directly, for
 * inputs the HTTP API does not expose (`historyLimit`).
 */
async function startDirect(
  stack: Stack,
  n: number,
  options: Partial<BatchOptions>,
  extra: Partial<Pick<BatchWorkflowInput, 'historyLimit'>> & { retry?: RetryPolicies } = {},
) {
  const batchId = `b_${ulid()}`;
  const opts: BatchOptions = {
    stages: [...STAGES],
    chunkSize: 25,
    maxParallelChunks: 4,
    priority: 'normal',
    onCancel: 'keep',
    maxFailureRatio: 1,
    ...options,
  };
  await insertBatch(
    stack.db.db,
    {
      id: batchId,
      tenant_id: stack.tenantId,
      status: 'queued',
      priority: opts.priority,
      options: JSON.stringify(opts),
      metadata: JSON.stringify({}),
      callback_url: null,
      total_items: n,
      counts: JSON.stringify(emptyCounts(n)),
      error: null,
      idempotency_key: null,
      request_hash: null,
      workflow_id: workflowIdFor(batchId),
    },
    items(n).map((i) => ({ ref: i.ref, text: i.text, content: null, contentType: null, attributes: null })),
  );
  const input: BatchWorkflowInput = {
    batchId,
    tenantId: stack.tenantId,
    totalItems: n,
    options: opts,
    retry: extra.retry ?? SHIPPED.retry,
    ...(extra.historyLimit !== undefined ? { historyLimit: extra.historyLimit } : {}),
  };
  const handle = await stack.client.workflow.start('batchWorkflow', {
    taskQueue: stack.taskQueue,
    workflowId: workflowIdFor(batchId),
    args: [input],
  });
  return { batchId, handle };
}

interface Run {
  runId: string;
  events: HistoryEvent[];
}

/**
 * Every run of a workflow id, oldest first: found from the latest run's first-run id, then followed
 * forward through each run's ContinuedAsNew event (which names the next run). Unlike visibility
 * (list), history is read-your-writes, so this never races the server.
 */
async function runChain(client: Client, workflowId: string): Promise<Run[]> {
  const latest = await client.workflow.getHandle(workflowId).fetchHistory();
  const firstRunId = latest.events?.[0]?.workflowExecutionStartedEventAttributes?.firstExecutionRunId;
  assert.ok(firstRunId, 'the started event names the first run');
  const runs: Run[] = [];
  let runId: string | null | undefined = firstRunId;
  while (runId) {
    const events: HistoryEvent[] = (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
    runs.push({ runId, events });
    runId = events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
  }
  return runs;
}

const activityType = (e: HistoryEvent): string | null | undefined => e.activityTaskScheduledEventAttributes?.activityType?.name;

/**
 * Stage activities scheduled after the first event matching `isStop`, across all runs from the
 * one holding it. Also answers the activity types scheduled after it (the bookkeeping that ends
 * the batch should be there).
 */
function scheduledAfter(runs: Run[], isStop: (e: HistoryEvent) => boolean): { found: boolean; stageAfter: string[]; allAfter: string[] } {
  let found = false;
  const allAfter: string[] = [];
  for (const run of runs) {
    for (const e of run.events) {
      if (!found) {
        found = isStop(e);
        continue;
      }
      const type = activityType(e);
      if (type) allAfter.push(type);
    }
  }
  return { found, stageAfter: allAfter.filter((t) => STAGE_ACTIVITIES.has(t)), allAfter };
}

/**
 * What every batch must satisfy when it has ended: no item left pending; the statuses add up; the
 * counts GET reports agree with the item listing; and the publish target holds exactly one item
 * per succeeded ref (the one the item records) and nothing for any other ref.
 */
async function assertFinalState(stack: Stack, batchId: string, total: number, target?: PublishTarget) {
  const batch = await getBatch(stack, batchId);
  const list = await allItems(stack, batchId);
  const statuses = byStatus(list);
  assert.equal(list.length, total, 'one listed item per submitted item');
  assert.equal(statuses.pending ?? 0, 0, `no item left pending: ${JSON.stringify(statuses)}`);
  const succeeded = list.filter((i) => i.status === 'succeeded');
  const cancelled = list.filter((i) => i.status === 'cancelled');
  const failed = list.filter((i) => i.status === 'failed');
  // With a cancel that keeps what finished, items caught between stages are undone (compensated).
  const compensated = list.filter((i) => i.status === 'compensated');
  assert.equal(
    succeeded.length + cancelled.length + failed.length + compensated.length,
    total,
    `every item ended succeeded, cancelled, failed or compensated: ${JSON.stringify(statuses)}`,
  );

  const c = batch.counts;
  assert.equal(c.pending, 0);
  assert.equal(c.published, succeeded.length, 'counts.published = succeeded items');
  assert.equal(c.cancelled, cancelled.length, 'counts.cancelled = cancelled items');
  assert.equal(c.failed, failed.length, 'counts.failed = failed items');
  assert.equal(c.compensated, compensated.length, 'counts.compensated = compensated items');
  assert.equal(c.needs_review, 0);
  for (const i of succeeded) assert.ok(i.published_id, `succeeded ${i.ref} has a published_id`);

  if (target) {
    // A request the target accepted before the batch ended is answered after its latency; wait
    // that out (with room to spare) so a create landing late is seen, not missed.
    await sleep((target.faults.latencyMs ?? 0) * 2 + 1_000);
    const byRef = target.countByRef();
    const idByRef = new Map([...target.items].map(([id, { ref }]) => [ref, id]));
    for (const i of succeeded) {
      assert.equal(byRef.get(i.ref), 1, `target holds ${i.ref} exactly once`);
      assert.equal(idByRef.get(i.ref), i.published_id, `${i.ref}'s published_id is the target's id`);
    }
    const stray = [...cancelled, ...failed, ...compensated].filter((i) => byRef.has(i.ref)).map((i) => `${i.ref} (${i.status})`);
    assert.deepEqual(stray, [], 'the target holds nothing for items that did not succeed');
    assert.equal(target.items.size, succeeded.length, 'the target holds nothing else');
  }
  return { batch, list, succeeded, cancelled, failed };
}

test(
  'a batch completes: every item published once, counts exact, progress answered while running',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    // Latency on the target keeps the batch running for a few seconds, so progress is observable.
    const target = await startPublishTarget({ latencyMs: 100 });
    const stack = await startStack({ publishUrl: target.url });
    try {
      const total = 200;
      const batchId = await submit(stack, { items: items(total), chunk_size: 10, max_parallel_chunks: 2 });
      const handle = stack.client.workflow.getHandle(workflowIdFor(batchId));

      // Query until the batch ends, keeping every answer given while it ran.
      const answers: Progress[] = [];
      for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
        const row = await getBatch(stack, batchId);
        if (['completed', 'partial', 'failed', 'cancelled'].includes(row.status)) break;
        try {
          const p = await handle.query<Progress>(PROGRESS_QUERY);
          if (p.status === 'running') answers.push(p);
        } catch {
          // Not yet picked up by the worker, or just closed: the next round decides.
        }
        await sleep(100);
      }
      assert.ok(answers.length > 0, 'the progress query answered while the batch ran');
      for (const p of answers) {
        assert.equal(p.total_items, total);
        assert.deepEqual(Object.keys(p.counts).sort(), Object.keys(emptyCounts()).sort());
        assert.ok(p.progress_percent >= 0 && p.progress_percent <= 100);
        assert.ok(p.stage === null || (STAGES as readonly string[]).includes(p.stage), `stage ${p.stage}`);
        assert.ok(p.eta_seconds === null || (Number.isFinite(p.eta_seconds) && p.eta_seconds >= 0));
        assert.ok(Number.isFinite(p.items_per_second) && p.items_per_second >= 0);
        assert.ok(p.counts.pending >= 0 && p.counts.pending <= total);
      }
      // Publishing takes >= 2 s here (20 chunks of 2 × 100 ms, two at a time), so some answer comes
      // from mid-batch: part done, a rate, an estimate.
      const mid = answers.find((p) => p.counts.pending > 0 && p.counts.pending < total);
      assert.ok(mid, `some answer came mid-batch: ${JSON.stringify(answers.map((a) => a.counts.pending))}`);
      assert.ok(mid.progress_percent > 0 && mid.progress_percent < 100);
      assert.ok(mid.items_per_second > 0);
      assert.equal(typeof mid.eta_seconds, 'number');
      assert.ok(mid.stage !== null, 'a stage is in flight mid-batch');

      const summary = (await handle.result()) as BatchSummary;
      assert.equal(summary.status, 'completed');

      const { batch, list } = await assertFinalState(stack, batchId, total, target);
      assert.equal(batch.status, 'completed');
      assert.equal(batch.error, null);
      assert.deepEqual(batch.counts, { ...emptyCounts(0), classified: total, ingested: total, published: total });
      assert.deepEqual(summary.counts, batch.counts);
      assert.ok(list.every((i) => i.status === 'succeeded' && i.stage === 'publish' && i.error === null));
      assert.equal(target.items.size, total);
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);

test("continue-as-new keeps every run's history bounded and the counts exact", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const stack = await startStack();
  try {
    const total = 200;
    const historyLimit = 150;
    const maxParallelChunks = 4;
    const { batchId, handle } = await startDirect(stack, total, { chunkSize: 2, maxParallelChunks }, { historyLimit });
    const summary = (await handle.result()) as BatchSummary; // follows the run chain to its end
    assert.equal(summary.status, 'completed');

    // Past the limit a run starts nothing new but drains what is in flight: at most
    // max_parallel_chunks chunks × every stage, each stage call costing ActivityTaskScheduled,
    // Started, Completed and the workflow task that reacts to it (Scheduled, Started, Completed),
    // ~8 with slack. Then + 50 for the hand-over: the workflow task that noticed (its history length
    // is read as of the task's start), saveSnapshot's activity and task, the ContinueAsNew event.
    const margin = maxParallelChunks * STAGES.length * 8 + 50;
    const runs = await runChain(stack.client, handle.workflowId);
    const lengths = runs.map((r) => r.events.length);
    t.diagnostic(
      `runs: ${runs.length}; events per run: ${lengths.join(', ')}; largest ${Math.max(...lengths)}; bound ${historyLimit + margin}`,
    );
    console.log(
      `[continue-as-new] runs=${runs.length} events per run=${lengths.join(',')} largest=${Math.max(...lengths)} bound=${historyLimit + margin}`,
    );

    assert.ok(runs.length >= 3, `the batch went through several runs (${runs.length})`);
    for (const [i, run] of runs.entries()) {
      assert.ok(run.events.length <= historyLimit + margin, `run ${i} has ${run.events.length} events, over ${historyLimit} + ${margin}`);
      const last = run.events[run.events.length - 1]!;
      if (i < runs.length - 1) assert.ok(last.workflowExecutionContinuedAsNewEventAttributes, `run ${i} ends by continuing as new`);
      else assert.ok(last.workflowExecutionCompletedEventAttributes, 'the last run completes');
    }
    // Every run did stage work: none is an empty hand-over.
    for (const run of runs) assert.ok(run.events.some((e) => STAGE_ACTIVITIES.has(activityType(e) ?? '')));

    // Visibility lists the same runs (eventually consistent, hence the wait).
    const listed = await eventually('visibility to list every run', async () => {
      const ids: string[] = [];
      for await (const w of stack.client.workflow.list({ query: `WorkflowId="${handle.workflowId}"` })) ids.push(w.runId);
      return ids.length === runs.length ? ids : undefined;
    });
    assert.deepEqual(new Set(listed), new Set(runs.map((r) => r.runId)));

    const { batch, list } = await assertFinalState(stack, batchId, total);
    assert.equal(batch.status, 'completed');
    assert.deepEqual(batch.counts, { ...emptyCounts(0), classified: total, ingested: total, published: total });
    assert.deepEqual(summary.counts, batch.counts);
    assert.ok(list.every((i) => i.status === 'succeeded'));
  } finally {
    await stack.stop();
  }
});

test(
  'cancel by signal: stops within bounded time, every item final, no stage scheduled after the signal',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const target = await startPublishTarget({ latencyMs: 300 });
    const stack = await startStack({ publishUrl: target.url });
    try {
      const total = 400;
      const batchId = await submit(stack, { items: items(total), chunk_size: 10, max_parallel_chunks: 2 });
      await eventually('some items to be published', async () => target.items.size > 0, 60_000);

      const cancelledAt = Date.now();
      const res = await stack.api(`/v1/batches/${batchId}/cancel`, { method: 'POST', body: '{}' });
      assert.equal(res.status, 202, await res.text());
      const ended = await waitForBatch(
        stack,
        batchId,
        (b) => b.status === 'cancelled' || ['completed', 'partial', 'failed'].includes(b.status),
        60_000,
      );
      const seconds = (Date.now() - cancelledAt) / 1000;
      t.diagnostic(`cancel latency (signal → status cancelled): ${seconds.toFixed(2)} s`);
      console.log(`[cancel-signal] latency=${seconds.toFixed(2)}s`);
      assert.equal(ended.status, 'cancelled');
      assert.ok(seconds < 30, `cancelled within 30 s (took ${seconds.toFixed(1)} s)`);

      const { succeeded, cancelled, failed } = await assertFinalState(stack, batchId, total, target);
      assert.ok(succeeded.length > 0, 'items published before the cancel stay succeeded');
      assert.ok(cancelled.length > 0, 'the rest were cancelled');
      assert.equal(failed.length, 0);
      assert.ok(cancelled.every((i) => i.error === null && i.published_id === null));

      const runs = await runChain(stack.client, workflowIdFor(batchId));
      const after = scheduledAfter(runs, (e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'cancel');
      assert.ok(after.found, 'the cancel signal is in the history');
      assert.deepEqual(after.stageAfter, [], 'no stage activity was scheduled after the cancel signal');
      assert.ok(after.allAfter.includes('finishBatch'), 'the batch was finished after the signal');
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);

/**
 * The same promise as above, in the shape that makes an in-flight publish meet the cancel: each
 * request takes 1.5 s at the target, a chunk of 20 is three rounds of 8 concurrent requests, and
 * the worker flushes heartbeats (how a cancel reaches an activity) at most every 2 s. Cancelling
 * once the first round has landed means the cancel reaches the publish activities at about 3.5 s,
 * while the third round (3.0 s – 4.5 s) is in flight at the target.
 */
test(
  'cancel while publish requests are in flight: nothing ends up published downstream yet recorded cancelled',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const target = await startPublishTarget({ latencyMs: 1_500 });
    const stack = await startStack({ publishUrl: target.url });
    try {
      const total = 200;
      const batchId = await submit(stack, { items: items(total), chunk_size: 20, max_parallel_chunks: 2 });
      await eventually('the first round of publishes to land', async () => target.items.size >= 8, 60_000);
      const res = await stack.api(`/v1/batches/${batchId}/cancel`, { method: 'POST', body: '{}' });
      assert.equal(res.status, 202, await res.text());
      const ended = await waitForBatch(stack, batchId, undefined, 60_000);
      assert.equal(ended.status, 'cancelled');

      const { succeeded, cancelled } = await assertFinalState(stack, batchId, total, target);
      t.diagnostic(`succeeded ${succeeded.length}, cancelled ${cancelled.length}, target holds ${target.items.size}`);
      assert.ok(cancelled.length > 0);
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);

test(
  'cancel from outside (Temporal UI/CLI): batch cancelled, execution CANCELLED, every item final',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const target = await startPublishTarget({ latencyMs: 300 });
    const stack = await startStack({ publishUrl: target.url });
    try {
      const total = 400;
      const batchId = await submit(stack, { items: items(total), chunk_size: 10, max_parallel_chunks: 2 });
      await eventually('some items to be published', async () => target.items.size > 0, 60_000);

      const handle = stack.client.workflow.getHandle(workflowIdFor(batchId));
      const cancelledAt = Date.now();
      await handle.cancel();
      const ended = await waitForBatch(stack, batchId, undefined, 60_000);
      t.diagnostic(`cancel latency (cancel request → status cancelled): ${((Date.now() - cancelledAt) / 1000).toFixed(2)} s`);
      assert.equal(ended.status, 'cancelled');

      await assertExecutionCancelled(handle);

      const { batch, succeeded, cancelled } = await assertFinalState(stack, batchId, total, target);
      assert.equal(batch.status, 'cancelled');
      assert.ok(succeeded.length > 0);
      assert.ok(cancelled.length > 0);

      const runs = await runChain(stack.client, workflowIdFor(batchId));
      const after = scheduledAfter(runs, (e) => e.workflowExecutionCancelRequestedEventAttributes != null);
      assert.ok(after.found, 'the cancel request is in the history');
      assert.deepEqual(after.stageAfter, [], 'no stage activity was scheduled after the cancel request');
      assert.ok(after.allAfter.includes('finishBatch'));
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);

test(
  'permanent failures: rejected items fail with downstream_rejected, the rest succeed, batch partial',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const total = 40;
    const rejected = new Set(['sku-3', 'sku-10', 'sku-17', 'sku-24', 'sku-31']);
    const target = await startPublishTarget({ rejectRefs: rejected });
    const stack = await startStack({ publishUrl: target.url });
    try {
      const batchId = await submit(stack, { items: items(total), chunk_size: 5, max_parallel_chunks: 2 });
      const ended = await waitForBatch(stack, batchId);
      assert.equal(ended.status, 'partial');

      const { batch, list, succeeded, failed } = await assertFinalState(stack, batchId, total, target);
      assert.equal(batch.error, null);
      assert.deepEqual(new Set(failed.map((i) => i.ref)), rejected);
      for (const i of failed) {
        assert.equal(i.error?.code, 'downstream_rejected', `${i.ref}: ${JSON.stringify(i.error)}`);
        assert.equal(i.error?.retryable, false);
        assert.equal(i.stage, 'publish');
        assert.equal(i.published_id, null);
      }
      assert.equal(succeeded.length, total - rejected.size);
      assert.equal(list.filter((i) => i.status === 'cancelled').length, 0);
      assert.deepEqual(batch.counts, {
        ...emptyCounts(0),
        classified: total,
        ingested: total,
        published: total - rejected.size,
        failed: rejected.size,
      });
      // Each rejected ref was tried once: a permanent rejection is not retried.
      for (const ref of rejected) assert.equal(target.creates.filter((c) => c.ref === ref).length, 1, ref);
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);

test(
  'transient failures (503, 429 + Retry-After) are retried to completion, each item created once',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const total = 40;
    const target = await startPublishTarget({ errorRate: 0.3, throttleRate: 0.1, retryAfterSeconds: 1 }, seeded(20240611));
    // An item fails 40% of attempts; 20 attempts per chunk call make exhausting them (0.4^20) moot.
    // Tuning opt-in: retrying transient failures is what this test is about.
    const retry: RetryPolicies = { ...FAST_RETRY, publish: { ...FAST_RETRY.publish, maximumAttempts: 20 } };
    const stack = await startStack({ publishUrl: target.url, retry });
    try {
      const batchId = await submit(stack, { items: items(total), chunk_size: 5, max_parallel_chunks: 4 });
      const ended = await waitForBatch(stack, batchId);
      assert.equal(ended.status, 'completed', JSON.stringify(ended.counts));

      const { batch, succeeded } = await assertFinalState(stack, batchId, total, target);
      assert.equal(succeeded.length, total);
      assert.deepEqual(batch.counts, { ...emptyCounts(0), classified: total, ingested: total, published: total });
      assert.equal(target.items.size, total);
      assert.ok([...target.countByRef().values()].every((n) => n === 1));
      // The faults did happen: the outcome is not luck.
      assert.ok(
        target.creates.some((c) => c.status === 503),
        'some creates answered 503',
      );
      assert.ok(
        target.creates.some((c) => c.status === 429),
        'some creates answered 429',
      );
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);

test(
  'max_failure_ratio exceeded: batch failed with failure_ratio_exceeded and rolled back, nothing left pending or published',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const total = 60;
    const rejected = new Set(
      items(total)
        .filter((_, i) => i % 2 === 0)
        .map((i) => i.ref),
    );
    const target = await startPublishTarget({ rejectRefs: rejected });
    const stack = await startStack({ publishUrl: target.url });
    try {
      const batchId = await submit(stack, { items: items(total), chunk_size: 5, max_parallel_chunks: 2, max_failure_ratio: 0.2 });
      const ended = await waitForBatch(stack, batchId);
      assert.equal(ended.status, 'failed');

      // A breach rolls the batch back: what had succeeded is undone (compensated), what no stage
      // finished is cancelled, and the rejected items stay failed.
      const batch = (await getBatch(stack, batchId)) as BatchBody & { rolled_back: boolean };
      const list = await allItems(stack, batchId);
      const statuses = byStatus(list);
      assert.equal(list.length, total, 'one listed item per submitted item');
      assert.ok(
        list.every((i) => ['failed', 'compensated', 'cancelled'].includes(i.status)),
        `every item ended failed, compensated or cancelled: ${JSON.stringify(statuses)}`,
      );
      const failed = list.filter((i) => i.status === 'failed');
      const compensated = list.filter((i) => i.status === 'compensated');
      const cancelled = list.filter((i) => i.status === 'cancelled');
      for (const k of ['pending', 'failed', 'needs_review', 'compensated', 'cancelled', 'orphaned'] as const) {
        assert.equal(batch.counts[k], statuses[k] ?? 0, `counts.${k} = listed ${k} items`);
      }

      assert.equal(batch.error?.code, 'failure_ratio_exceeded');
      assert.equal(batch.rolled_back, true);
      assert.ok(failed.length > total * 0.2, `${failed.length} failed`);
      assert.ok(failed.every((i) => rejected.has(i.ref) && i.error?.code === 'downstream_rejected'));
      assert.ok(compensated.length > 0, 'the items published before the breach were undone');
      assert.ok(compensated.every((i) => !rejected.has(i.ref) && i.error === null));
      // The ratio trips after ~5 of 12 chunks with at most 2 in flight, so some were never started.
      assert.ok(cancelled.length > 0, 'the items no stage finished were cancelled');

      // Nothing of the batch is left at the target or in staging.
      await sleep(1_000);
      assert.equal(target.items.size, 0, 'the target holds nothing of the batch');
      const staged = await stack.db.db.selectFrom('staged_items').select('ref').where('batch_id', '=', batchId).execute();
      assert.deepEqual(staged, [], 'no staging row is left');
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);
