/**
 * Failure semantics end to end, on the real Temporal dev server with the real worker, activities,
 * database and a real HTTP publish target on loopback: transient chaos at the target (503, 429 +
 * Retry-After, requests that outlive the publish timeout), permanent rejections and their per-item
 * undo, the failure-ratio rollback, cancel with and without rollback (by signal and by the real
 * Temporal CLI), and an undo that can never succeed (orphaned items).
 *
 * Every test ends by checking that each item is in a final state and that the counts GET reports
 * agree with the item listing. Assertions are on end states, never on speed; waits are generous.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { emptyCounts, workflowIdFor, type RetryPolicies } from '../../src/contracts/workflow';
import { resolveTemporalCli } from '../../src/temporal/cli';
import { startPublishTarget, type PublishTarget, type TargetFaults } from '../helpers/publish-target';
import { FAST_RETRY, items, startStack, waitForBatch, type Stack } from '../helpers/stack';
import { temporalAddress } from '../helpers/temporal';
import { allItems, assertExecutionCancelled, eventually, getBatch, seeded, sleep, submit, type ItemBody } from '../helpers/api';

// The SDK logs every retried activity at WARN; the chaos test makes many on purpose.
Runtime.install({ logger: new DefaultLogger((process.env.TEST_SDK_LOG_LEVEL as LogLevel | undefined) ?? 'ERROR') });

const TEST_TIMEOUT_MS = 240_000;
const execFileP = promisify(execFile);

async function cancel(stack: Stack, batchId: string, body: Record<string, unknown>): Promise<void> {
  const res = await stack.api(`/v1/batches/${batchId}/cancel`, { method: 'POST', body: JSON.stringify(body) });
  assert.equal(res.status, 202, await res.text());
}

/** The refs of the batch that have a staging row. */
async function stagedRefs(stack: Stack, batchId: string): Promise<Set<string>> {
  const rows = await stack.db.db.selectFrom('staged_items').select('ref').where('batch_id', '=', batchId).execute();
  return new Set(rows.map((r) => r.ref));
}

const FINAL_ITEM_STATUSES = new Set(['succeeded', 'failed', 'needs_review', 'compensated', 'cancelled', 'orphaned']);
const COUNTED_STATUSES = ['pending', 'failed', 'needs_review', 'compensated', 'cancelled', 'orphaned'] as const;
const TERMINAL = ['completed', 'partial', 'failed', 'cancelled'];

/**
 * What every ended batch must satisfy: a terminal status, one listed item per submitted item,
 * each in a final state (one of `allowed`), and GET's per-status counts equal to the listing's.
 */
async function assertFinal(stack: Stack, batchId: string, total: number, allowed: string[]) {
  const batch = await getBatch(stack, batchId);
  assert.ok(TERMINAL.includes(batch.status), `batch ended: ${batch.status}`);
  const list = await allItems(stack, batchId);
  assert.equal(list.length, total, 'one listed item per submitted item');
  const tally: Record<string, number> = {};
  for (const i of list) {
    assert.ok(FINAL_ITEM_STATUSES.has(i.status), `${i.ref} is in a final state (${i.status})`);
    assert.ok(allowed.includes(i.status), `${i.ref} ended ${i.status}, expected one of ${allowed.join('/')}`);
    tally[i.status] = (tally[i.status] ?? 0) + 1;
  }
  for (const k of COUNTED_STATUSES)
    assert.equal(batch.counts[k], tally[k] ?? 0, `counts.${k} (${batch.counts[k]}) = listed ${k} items; listing: ${JSON.stringify(tally)}`);
  const with_ = (status: string): ItemBody[] => list.filter((i) => i.status === status);
  for (const i of with_('succeeded')) assert.ok(i.published_id, `succeeded ${i.ref} has a published_id`);
  return { batch, list, tally, with: with_ };
}

/** Waits out requests the target may still be answering (latency, hangs), then reads it. */
async function settledTarget(target: PublishTarget): Promise<{ byRef: Map<string, number>; idByRef: Map<string, string> }> {
  await sleep((target.faults.latencyMs ?? 0) * 2 + (target.faults.hangRate ? (target.faults.hangMs ?? 3_000) : 0) + 1_000);
  return { byRef: target.countByRef(), idByRef: new Map([...target.items].map(([id, { ref }]) => [ref, id])) };
}

/** The target holds exactly `expected` (one each, under the id the item records), nothing else. */
async function assertTargetHoldsExactly(target: PublishTarget, expected: ItemBody[]): Promise<void> {
  const { byRef, idByRef } = await settledTarget(target);
  for (const i of expected) {
    assert.equal(byRef.get(i.ref), 1, `target holds ${i.ref} exactly once`);
    assert.equal(idByRef.get(i.ref), i.published_id, `${i.ref}'s published_id is the target's id`);
  }
  const want = new Set(expected.map((i) => i.ref));
  const extra = [...byRef.keys()].filter((r) => !want.has(r));
  assert.deepEqual(extra, [], 'the target holds nothing else');
  assert.equal(target.items.size, expected.length);
}

// ---------------------------------------------------------------------------------------------

test(
  'chaos at the target (503, 429 + Retry-After, hangs past the timeout): 500 items complete, each created once, no retry before its Retry-After',
  { timeout: 300_000 },
  async (t) => {
    const total = 500;
    const faults: TargetFaults = { errorRate: 0.3, throttleRate: 0.1, retryAfterSeconds: 2, hangRate: 0.03, hangMs: 3_000 };

    // The target notes when each create arrived (`arrivedAt`) and when it answered (`at`): a hung
    // create answers hangMs after it arrived, possibly after a later attempt for the same key.
    const target = await startPublishTarget(faults, seeded(20240611));
    const creates = target.creates;

    // Each try of an item fails with p = 0.3 + 0.1 + 0.03 = 0.43 (a hang is a timeout: the publish
    // timeout is 2 s, the hang 3 s). Every item gets one try per dispatch of its chunk, so with
    // N dispatches the chance that any of the 500 items exhausts them is at most 500 × 0.43^N:
    // N = 30 makes it ~5e-9 (N = 20 would still leave ~2e-5).
    // Tuning opt-in: retries and the publish timeout are what this test is about (retried to the end; a hang outlives the timeout).
    const retry: RetryPolicies = { ...FAST_RETRY, publish: { ...FAST_RETRY.publish, maximumAttempts: 30 } };
    const stack = await startStack({ publishUrl: target.url, retry, publishTimeoutMs: 2_000 });
    try {
      const started = Date.now();
      const batchId = await submit(stack, { items: items(total), chunk_size: 25, max_parallel_chunks: 8 });
      const ended = await waitForBatch(stack, batchId, undefined, 270_000);
      t.diagnostic(`500 items under chaos ended ${ended.status} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      assert.equal(ended.status, 'completed', JSON.stringify(ended.counts));

      const { batch, with: w } = await assertFinal(stack, batchId, total, ['succeeded']);
      assert.equal(batch.error, null);
      assert.deepEqual(batch.counts, { ...emptyCounts(0), classified: total, ingested: total, published: total });
      await assertTargetHoldsExactly(target, w('succeeded'));
      assert.equal(target.countByRef().size, total);
      assert.ok(
        [...target.countByRef().values()].every((n) => n === 1),
        'one item per ref',
      );

      // The faults did happen.
      const statuses = new Map<number, number>();
      for (const c of creates) statuses.set(c.status, (statuses.get(c.status) ?? 0) + 1);
      const hung = creates.filter((c) => c.at - c.arrivedAt >= faults.hangMs!).length;
      t.diagnostic(`creates: ${creates.length} (${JSON.stringify(Object.fromEntries(statuses))}), hung: ${hung}`);
      assert.ok((statuses.get(503) ?? 0) > 0 && (statuses.get(429) ?? 0) > 0 && hung > 0, 'every kind of fault occurred');

      // No create came before the Retry-After of the 429 that preceded it for the same key.
      const byKey = new Map<string, Array<{ sent: number; status: number }>>();
      for (const c of creates) {
        const list = byKey.get(c.key) ?? [];
        list.push({ sent: c.arrivedAt, status: c.status });
        byKey.set(c.key, list);
      }
      const SLACK_MS = 50;
      let minGap = Infinity;
      let throttled = 0;
      const early: string[] = [];
      for (const [key, list] of byKey) {
        list.sort((a, b) => a.sent - b.sent);
        list.forEach((c, i) => {
          if (c.status !== 429) return;
          throttled++;
          const next = list[i + 1];
          assert.ok(next, `${key}: a 429 is followed by another try`);
          const gap = next.sent - c.sent;
          minGap = Math.min(minGap, gap);
          if (gap < faults.retryAfterSeconds! * 1000 - SLACK_MS) early.push(`${key}: retried ${gap} ms after a 429`);
        });
      }
      t.diagnostic(`429s: ${throttled}; smallest gap between a 429 and the next try of its key: ${minGap} ms`);
      console.log(
        `[chaos] creates=${creates.length} statuses=${JSON.stringify(Object.fromEntries(statuses))} hung=${hung} 429s=${throttled} min-gap-after-429=${minGap}ms`,
      );
      assert.deepEqual(early, [], 'no retry before its Retry-After');
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);

test(
  'refs the target rejects (422) end failed with downstream_rejected and lose their staging row; the rest keep theirs; batch partial',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const total = 30;
    const rejected = new Set(['sku-2', 'sku-9', 'sku-15', 'sku-27']);
    const target = await startPublishTarget({ rejectRefs: rejected });
    const stack = await startStack({ publishUrl: target.url });
    try {
      const batchId = await submit(stack, { items: items(total), chunk_size: 5, max_parallel_chunks: 2 });
      const ended = await waitForBatch(stack, batchId);
      assert.equal(ended.status, 'partial');

      const { batch, with: w } = await assertFinal(stack, batchId, total, ['succeeded', 'failed']);
      assert.equal(batch.rolled_back, false);
      assert.equal(batch.error, null);
      const failed = w('failed');
      assert.deepEqual(new Set(failed.map((i) => i.ref)), rejected);
      for (const i of failed) {
        assert.equal(i.error?.code, 'downstream_rejected', `${i.ref}: ${JSON.stringify(i.error)}`);
        assert.equal(i.error?.retryable, false);
        assert.equal(i.published_id, null);
      }
      assert.equal(batch.counts.published, total - rejected.size);

      const staged = await stagedRefs(stack, batchId);
      for (const ref of rejected) assert.equal(staged.has(ref), false, `rejected ${ref} has no staging row`);
      for (const i of w('succeeded')) assert.ok(staged.has(i.ref), `succeeded ${i.ref} keeps its staging row`);
      assert.equal(staged.size, total - rejected.size);
      const rows = await stack.db.db
        .selectFrom('staged_items')
        .selectAll()
        .where('batch_id', '=', batchId)
        .where('ref', 'in', [...rejected])
        .execute();
      assert.deepEqual(rows, [], 'no staged_items row for a rejected ref');

      await assertTargetHoldsExactly(target, w('succeeded'));
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);

test(
  'failure ratio exceeded: batch failed and rolled back, the target and staging hold nothing of it',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const total = 40;
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

      const { batch, with: w, tally } = await assertFinal(stack, batchId, total, ['failed', 'compensated', 'cancelled']);
      t.diagnostic(`ended: ${JSON.stringify(tally)}; counts: ${JSON.stringify(batch.counts)}`);
      assert.equal(batch.rolled_back, true);
      assert.equal(batch.error?.code, 'failure_ratio_exceeded');
      assert.ok(w('failed').length > total * 0.2, JSON.stringify(tally));
      assert.ok(w('failed').every((i) => rejected.has(i.ref) && i.error?.code === 'downstream_rejected'));
      // Items published before the ratio tripped were undone; the chunks never started were cancelled.
      assert.ok(w('compensated').length > 0, `some items were undone: ${JSON.stringify(tally)}`);
      assert.ok(w('compensated').every((i) => !rejected.has(i.ref)));
      assert.ok(w('cancelled').length > 0, `some items were never started: ${JSON.stringify(tally)}`);

      await settledTarget(target);
      assert.deepEqual(
        [...target.items.values()].map((i) => i.ref),
        [],
        'the target holds nothing of the batch',
      );
      assert.ok(
        target.creates.some((c) => c.status === 201),
        'something had been published before the rollback',
      );
      assert.deepEqual([...(await stagedRefs(stack, batchId))], [], 'no staging row is left');
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);

test(
  'cancel with rollback mid-run: cancelled and rolled back, the target and staging hold nothing of the batch',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const total = 200;
    const target = await startPublishTarget({ latencyMs: 300 });
    const stack = await startStack({ publishUrl: target.url });
    try {
      const batchId = await submit(stack, { items: items(total), chunk_size: 10, max_parallel_chunks: 2 });
      await eventually('some items to be published', async () => target.items.size >= 10, 60_000);
      await cancel(stack, batchId, { rollback: true });
      const ended = await waitForBatch(stack, batchId, undefined, 90_000);
      assert.equal(ended.status, 'cancelled');

      const { batch, with: w, tally } = await assertFinal(stack, batchId, total, ['compensated', 'cancelled']);
      t.diagnostic(`ended: ${JSON.stringify(tally)}; counts: ${JSON.stringify(batch.counts)}`);
      assert.equal(batch.rolled_back, true);
      assert.ok(w('compensated').length >= 10, `the published items were undone: ${JSON.stringify(tally)}`);
      assert.ok(w('cancelled').length > 0, JSON.stringify(tally));
      assert.ok(w('compensated').every((i) => i.error === null));

      await settledTarget(target);
      assert.deepEqual(
        [...target.items.values()].map((i) => i.ref),
        [],
        'the target holds nothing of the batch',
      );
      assert.deepEqual([...(await stagedRefs(stack, batchId))], [], 'no staging row is left');
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);

/**
 * The shape both keep-cancels run in: 300 items in chunks of 100, two in flight, each request
 * taking 500 ms at the target. A chunk publishes 8 at a time, so its 100 publishes take ~6.5 s.
 * The cancel comes once 10 items are published (~1 s in); it reaches the publish activities at
 * their next heartbeat (flushed at least every 2 s), by which time at most ~60 of each chunk's
 * requests have been sent. So the cancel finds items published (succeeded), items staged but not
 * yet published (compensated) and a chunk never started (cancelled).
 */
const KEEP_SHAPE = { total: 300, chunk_size: 100, max_parallel_chunks: 2, latencyMs: 500 };

/**
 * What a cancel with keep leaves: the target holds exactly the items that ended succeeded, the
 * rest are cancelled or compensated, compensated items lost their staging row, succeeded ones not.
 */
async function assertKept(stack: Stack, batchId: string, total: number, target: PublishTarget) {
  const res = await assertFinal(stack, batchId, total, ['succeeded', 'compensated', 'cancelled']);
  const { batch, with: w, tally } = res;
  assert.equal(batch.status, 'cancelled');
  assert.equal(batch.rolled_back, false);
  assert.ok(w('succeeded').length > 0, `items published before the cancel stay succeeded: ${JSON.stringify(tally)}`);
  assert.ok(w('compensated').length > 0, `items caught mid-pipeline were undone: ${JSON.stringify(tally)}`);
  assert.ok(w('cancelled').length > 0, JSON.stringify(tally));
  assert.ok(
    w('compensated').every((i) => i.error === null && i.stage !== 'publish'),
    'compensated items had not been published',
  );
  assert.equal(batch.counts.published, w('succeeded').length, 'counts.published = succeeded items');
  for (const i of [...w('cancelled'), ...w('compensated')])
    assert.equal(i.published_id, null, `${i.ref} (${i.status}) has no published_id`);
  await assertTargetHoldsExactly(target, w('succeeded'));
  const staged = await stagedRefs(stack, batchId);
  for (const i of w('compensated')) assert.equal(staged.has(i.ref), false, `compensated ${i.ref} has no staging row`);
  for (const i of w('cancelled')) assert.equal(staged.has(i.ref), false, `cancelled ${i.ref} has no staging row`);
  for (const i of w('succeeded')) assert.ok(staged.has(i.ref), `succeeded ${i.ref} keeps its staging row`);
  assert.equal(staged.size, w('succeeded').length);
  return res;
}

test(
  'cancel without rollback mid-run: the target holds exactly the succeeded items; the rest cancelled or compensated',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const total = KEEP_SHAPE.total;
    const target = await startPublishTarget({ latencyMs: KEEP_SHAPE.latencyMs });
    const stack = await startStack({ publishUrl: target.url });
    try {
      const batchId = await submit(stack, {
        items: items(total),
        chunk_size: KEEP_SHAPE.chunk_size,
        max_parallel_chunks: KEEP_SHAPE.max_parallel_chunks,
        on_cancel: 'rollback',
      });
      await eventually('some items to be published', async () => target.items.size >= 10, 60_000);
      // The body overrides the batch's on_cancel (rollback).
      await cancel(stack, batchId, { rollback: false });
      const ended = await waitForBatch(stack, batchId, undefined, 90_000);
      assert.equal(ended.status, 'cancelled');
      const { tally } = await assertKept(stack, batchId, total, target);
      t.diagnostic(`ended: ${JSON.stringify(tally)}`);
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);

test(
  'cancel from the Temporal CLI (temporal workflow cancel) behaves like the signal: on_cancel keep, execution CANCELLED',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const cli = await resolveTemporalCli();
    assert.equal(cli.type, 'existing-path', 'the Temporal CLI binary is available');
    const { address, namespace } = await temporalAddress();

    const total = KEEP_SHAPE.total;
    const target = await startPublishTarget({ latencyMs: KEEP_SHAPE.latencyMs });
    const stack = await startStack({ publishUrl: target.url });
    try {
      const batchId = await submit(stack, {
        items: items(total),
        chunk_size: KEEP_SHAPE.chunk_size,
        max_parallel_chunks: KEEP_SHAPE.max_parallel_chunks,
      });
      const workflowId = `batch-${batchId}`;
      assert.equal(workflowId, workflowIdFor(batchId));
      await eventually('some items to be published', async () => target.items.size >= 10, 60_000);

      const out = await execFileP(
        (cli as { path: string }).path,
        ['workflow', 'cancel', '--workflow-id', workflowId, '--address', address, '--namespace', namespace],
        { timeout: 30_000 },
      );
      t.diagnostic(`temporal workflow cancel: ${out.stdout.trim()} ${out.stderr.trim()}`);
      const ended = await waitForBatch(stack, batchId, undefined, 90_000);
      assert.equal(ended.status, 'cancelled');

      const handle = stack.client.workflow.getHandle(workflowId);
      await assertExecutionCancelled(handle);

      const { tally } = await assertKept(stack, batchId, total, target);
      t.diagnostic(`ended: ${JSON.stringify(tally)}`);
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);

test(
  'an undo the target refuses for good (DELETE 400) leaves those items orphaned with their remote id; the rest roll back',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const total = 100;
    const stuck = new Set(['sku-0', 'sku-3', 'sku-7']);
    const target = await startPublishTarget({ latencyMs: 200, failDeletes: { refs: stuck, status: 400 } });
    const stack = await startStack({ publishUrl: target.url });
    try {
      const batchId = await submit(stack, { items: items(total), chunk_size: 10, max_parallel_chunks: 2 });
      await eventually(
        'the stuck refs to be published',
        async () => {
          const byRef = target.countByRef();
          return [...stuck].every((r) => byRef.has(r));
        },
        60_000,
      );
      await cancel(stack, batchId, { rollback: true });
      const ended = await waitForBatch(stack, batchId, undefined, 90_000);
      assert.equal(ended.status, 'cancelled');

      const { batch, with: w, tally } = await assertFinal(stack, batchId, total, ['orphaned', 'compensated', 'cancelled']);
      t.diagnostic(`ended: ${JSON.stringify(tally)}; rolled_back=${batch.rolled_back}; counts: ${JSON.stringify(batch.counts)}`);
      const orphaned = w('orphaned');
      assert.deepEqual(new Set(orphaned.map((i) => i.ref)), stuck);
      assert.equal(batch.rolled_back, false, 'a rollback that left orphans did not undo everything');
      assert.equal(batch.counts.orphaned, stuck.size);
      for (const i of orphaned) {
        assert.ok(i.published_id, `${i.ref} reports its remote id`);
        assert.equal(i.error?.code, 'compensation_failed', `${i.ref}: ${JSON.stringify(i.error)}`);
        assert.ok(i.error?.message.includes(i.published_id!), `${i.ref}'s error names the remote id`);
      }
      assert.ok(w('compensated').length > 0, JSON.stringify(tally));
      for (const ref of stuck)
        assert.ok(
          target.deletes.some((d) => target.items.get(d.id)?.ref === ref && d.status === 400),
          `DELETE of ${ref} was tried and refused`,
        );

      // The target still holds exactly the orphaned items, under the ids they report.
      await assertTargetHoldsExactly(target, orphaned);
      const staged = await stagedRefs(stack, batchId);
      for (const i of [...w('compensated'), ...w('cancelled')])
        assert.equal(staged.has(i.ref), false, `${i.ref} (${i.status}) has no staging row`);
      t.diagnostic(`orphaned items with a staging row left: ${orphaned.filter((i) => staged.has(i.ref)).length}`);
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);
