/**
 * Control of a running batch through the HTTP API (the contract's "Control" section): pause and
 * resume, PATCH of its concurrency, redrive of failed items (on a running batch and on a finished
 * one), bulk cancel, and the 404/409 answers. Everything runs for real: the Temporal dev server, a
 * worker on its own task queue, a fresh database, and a loopback publish target whose faults the
 * tests change mid-run. Assertions are on what the target saw and on end states, never on speed;
 * waits are bounded generously.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { PROGRESS_QUERY, workflowIdFor, type Counts, type Progress } from '../../src/contracts/workflow';
import { startPublishTarget, type PublishTarget } from '../helpers/publish-target';
import { items, startStack, waitForBatch, type Stack } from '../helpers/stack';
import { allItems, eventually, getBatch, sleep, submit, type BatchBody, type ItemBody } from '../helpers/api';

Runtime.install({ logger: new DefaultLogger((process.env.TEST_SDK_LOG_LEVEL as LogLevel | undefined) ?? 'ERROR') });

const TEST_TIMEOUT_MS = 120_000;
const FINISHED = ['completed', 'partial', 'failed', 'cancelled'];

/** POST/PATCH without caring for the shape: answers the status and the parsed body. */
async function call(
  stack: Stack,
  method: string,
  path: string,
  body?: unknown,
  key?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await stack.api(path, {
    method,
    key,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function assertError(r: { status: number; body: Record<string, unknown> }, status: number, code: string, what: string): void {
  assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
  assert.equal((r.body.error as { code?: string } | undefined)?.code, code, `${what}: ${JSON.stringify(r.body)}`);
}

const finished = (stack: Stack, batchId: string, key?: string) =>
  waitForBatch(stack, batchId, (b) => FINISHED.includes(b.status), 120_000, key);

/**
 * Waits until the batch's workflow run has closed. The row reads final a moment before the run
 * closes; a redrive in that moment is the subject of its own test below, so the other redrive
 * tests wait it out here.
 */
const runClosed = (stack: Stack, batchId: string): Promise<unknown> =>
  stack.client.workflow
    .getHandle(workflowIdFor(batchId))
    .result()
    .catch(() => undefined);

/** The live progress query (it carries `chunks.in_flight`, which the HTTP body does not). */
const progress = (stack: Stack, batchId: string): Promise<Progress> =>
  stack.client.workflow.getHandle(workflowIdFor(batchId)).query<Progress>(PROGRESS_QUERY);

/**
 * A batch that ended `completed`: every item succeeded with the target's id, the counts add up,
 * and the target holds exactly one item per ref and nothing else.
 */
async function assertCompletedOnce(stack: Stack, batchId: string, total: number, target: PublishTarget): Promise<ItemBody[]> {
  const batch = await getBatch(stack, batchId);
  assert.equal(batch.status, 'completed', JSON.stringify(batch.counts));
  const list = await allItems(stack, batchId);
  assert.equal(list.length, total);
  const notOk = list.filter((i) => i.status !== 'succeeded').map((i) => `${i.ref}:${i.status}`);
  assert.deepEqual(notOk, [], 'every item succeeded');
  assert.equal(batch.counts.pending, 0);
  assert.equal(batch.counts.failed, 0);
  assert.equal(batch.counts.published, total, `counts: ${JSON.stringify(batch.counts)}`);
  // A create the target accepted just before the end is answered after its latency: wait it out.
  await sleep((target.faults.latencyMs ?? 0) * 2 + 500);
  const byRef = target.countByRef();
  const notOnce = [...byRef].filter(([, n]) => n !== 1);
  assert.deepEqual(notOnce, [], 'the target holds each ref once');
  assert.equal(target.items.size, total, 'the target holds one item per ref, nothing else');
  const idByRef = new Map([...target.items].map(([id, { ref }]) => [ref, id]));
  for (const i of list) assert.equal(i.published_id, idByRef.get(i.ref), `${i.ref}'s published_id is the target's`);
  return list;
}

/** Samples `read` every few milliseconds for `ms`, answering the largest value seen. */
async function sampleMax(ms: number, read: () => number): Promise<{ max: number; samples: number }> {
  let max = 0;
  let samples = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    max = Math.max(max, read());
    samples++;
    await sleep(5);
  }
  return { max, samples };
}

test('pause stops new chunks, in-flight work finishes, resume carries on: every item once', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const target = await startPublishTarget({ latencyMs: 200 });
  const stack = await startStack({ publishUrl: target.url });
  try {
    const total = 200;
    const batchId = await submit(stack, { items: items(total), chunk_size: 5, max_parallel_chunks: 2 });
    await eventually('the first creates', () => target.creates.length >= 10);

    const paused = await call(stack, 'POST', `/v1/batches/${batchId}/pause`);
    assert.equal(paused.status, 202, JSON.stringify(paused.body));
    assert.equal(paused.body.batch_id, batchId);
    assert.equal(paused.body.status, 'paused');
    assert.equal((await getBatch(stack, batchId)).status, 'paused');

    // Work in flight finishes: no chunk in flight in the workflow, no request at the target, and
    // then a settle time of about twice a chunk's duration (5 items × 200 ms, concurrently).
    await eventually(
      'in-flight chunks to end',
      async () => (await progress(stack, batchId)).chunks.in_flight === 0 && target.inFlight === 0,
      30_000,
    );
    await sleep(1_000);
    // The counts a GET answers can lag the workflow by a progress poll (more on a busy machine):
    // the window starts once two reads a second apart agree.
    let countsAtPause = (await getBatch(stack, batchId)).counts;
    await eventually(
      'the counts to settle',
      async () => {
        await sleep(1_000);
        const now = (await getBatch(stack, batchId)).counts;
        const settled = JSON.stringify(now) === JSON.stringify(countsAtPause);
        countsAtPause = now;
        return settled;
      },
      30_000,
    );
    const atPause = target.creates.length;
    assert.ok(atPause < total, `paused before the end (${atPause} creates of ${total})`);

    // The window: nothing new reaches the target.
    await sleep(4_000);
    const duringPause = target.creates.length - atPause;
    t.diagnostic(`creates when paused: ${atPause}; during the 4 s window: ${duringPause}`);
    assert.equal(duringPause, 0, 'no create while paused');
    const still = await getBatch(stack, batchId);
    assert.equal(still.status, 'paused');
    assert.deepEqual(still.counts, countsAtPause, 'counts do not move while paused');

    const resumed = await call(stack, 'POST', `/v1/batches/${batchId}/resume`);
    assert.equal(resumed.status, 202, JSON.stringify(resumed.body));
    assert.equal(resumed.body.status, 'running');
    await eventually('creates after resume', () => target.creates.length > atPause, 30_000);

    const ended = await finished(stack, batchId);
    assert.equal(ended.status, 'completed');
    await assertCompletedOnce(stack, batchId, total, target);
    assert.equal(target.creates.length, total, 'one create per item: nothing was sent twice');
  } finally {
    await stack.stop();
    await target.close();
  }
});

test(
  'PATCH max_parallel_chunks ramps a running batch up; bad values are 400, a finished batch 409',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const target = await startPublishTarget({ latencyMs: 300 });
    const stack = await startStack({ publishUrl: target.url });
    try {
      // chunk_size 2: a chunk has 2 requests in flight at once, so in-flight requests = chunks × 2.
      const total = 200;
      const batchId = await submit(stack, { items: items(total), chunk_size: 2, max_parallel_chunks: 1 });
      await eventually('the first creates', () => target.creates.length >= 2);

      const before = await sampleMax(3_000, () => target.inFlight);

      const patched = await call(stack, 'PATCH', `/v1/batches/${batchId}`, { max_parallel_chunks: 4 });
      assert.equal(patched.status, 202, JSON.stringify(patched.body));
      assert.equal(patched.body.batch_id, batchId);
      assert.equal(patched.body.max_parallel_chunks, 4);
      assert.equal(patched.body.max_failure_ratio, 1);
      assert.equal((await progress(stack, batchId)).max_parallel_chunks, 4, 'the workflow holds the new value');

      const after = await sampleMax(3_000, () => target.inFlight);
      const pendingAfter = (await getBatch(stack, batchId)).counts.pending;
      t.diagnostic(
        `in-flight max: ${before.max} at max_parallel_chunks 1 (${before.samples} samples), ${after.max} at 4 (${after.samples} samples); pending after: ${pendingAfter}`,
      );
      assert.ok(pendingAfter > 0, 'the batch was still running through the second window');
      assert.ok(before.max >= 1 && before.max <= 2, `1 chunk of 2 items: at most 2 requests in flight, saw ${before.max}`);
      assert.ok(after.max > before.max, `more in flight after the PATCH: ${before.max} → ${after.max}`);
      assert.ok(after.max <= 8, `4 chunks of 2 items: at most 8 in flight, saw ${after.max}`);

      // Bad patches, while the batch runs.
      for (const bad of [
        { max_parallel_chunks: 0 },
        { max_parallel_chunks: 65 },
        { max_parallel_chunks: 2.5 },
        { max_failure_ratio: 1.5 },
        { unknown_field: 1 },
        {},
      ]) {
        assertError(await call(stack, 'PATCH', `/v1/batches/${batchId}`, bad), 400, 'validation_failed', `PATCH ${JSON.stringify(bad)}`);
      }
      assertError(
        await call(stack, 'PATCH', `/v1/batches/${batchId}`, '{"max_parallel_chunks": '),
        400,
        'malformed_json',
        'PATCH with broken JSON',
      );

      const ended = await finished(stack, batchId);
      assert.equal(ended.status, 'completed');
      await assertCompletedOnce(stack, batchId, total, target);
      assertError(
        await call(stack, 'PATCH', `/v1/batches/${batchId}`, { max_parallel_chunks: 2 }),
        409,
        'conflict',
        'PATCH on a finished batch',
      );
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);

test(
  'redrive of a finished batch: the failed items run again and succeed, nothing else is redone',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const rejected = ['sku-3', 'sku-10', 'sku-17'];
    const target = await startPublishTarget({ rejectRefs: new Set(rejected) });
    const stack = await startStack({ publishUrl: target.url });
    try {
      const total = 24;
      const batchId = await submit(stack, { items: items(total), chunk_size: 4, max_parallel_chunks: 2 });
      const first = await finished(stack, batchId);
      assert.equal(first.status, 'partial');
      assert.equal(first.counts.failed, rejected.length);
      const failedBefore = (await allItems(stack, batchId)).filter((i) => i.status === 'failed');
      assert.deepEqual(failedBefore.map((i) => i.ref).sort(), [...rejected].sort());
      assert.ok(failedBefore.every((i) => i.error?.code === 'downstream_rejected'));
      assert.equal(target.items.size, total - rejected.length);

      // The target accepts them now.
      target.faults.rejectRefs = undefined;
      await runClosed(stack, batchId);
      const createsBefore = target.creates.length;
      const redrive = await call(stack, 'POST', `/v1/batches/${batchId}/retry-failed`);
      assert.equal(redrive.status, 202, JSON.stringify(redrive.body));
      assert.equal(redrive.body.retried, rejected.length);
      assert.equal(redrive.body.batch_id, batchId);

      const ended = await finished(stack, batchId);
      assert.equal(ended.status, 'completed', JSON.stringify(ended.counts));
      const list = await assertCompletedOnce(stack, batchId, total, target);
      for (const ref of rejected) assert.equal(list.find((i) => i.ref === ref)?.status, 'succeeded', `${ref} succeeded on the redrive`);
      // Only the failed items were sent again.
      const resent = target.creates.slice(createsBefore).map((c) => c.ref);
      assert.deepEqual([...resent].sort(), [...rejected].sort(), 'the redrive sent exactly the failed items, once each');
      assert.deepEqual(ended.counts, {
        ...ended.counts,
        pending: 0,
        failed: 0,
        published: total,
        compensated: 0,
        cancelled: 0,
        orphaned: 0,
      });

      // Nothing failed any more: a second redrive has nothing to do.
      const again = await call(stack, 'POST', `/v1/batches/${batchId}/retry-failed`);
      assert.equal(again.status, 202, JSON.stringify(again.body));
      assert.equal(again.body.retried, 0);
      assert.equal((await getBatch(stack, batchId)).status, 'completed');
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);

/**
 * Reads the batch until it reads `partial`, as a client that redrives on its first finished read:
 * every 100 ms while items are pending (the shipped 600 reads a minute), back to back once none
 * is, so the first read of the final row comes as close to the run's end as a client can. A 429
 * is honoured (Retry-After), and the time it costs does not count against the deadline: a busy
 * machine may make the back-to-back window long enough to spend the budget.
 */
async function pollUntilPartial(stack: Stack, batchId: string, key: string): Promise<string> {
  let last = 'no read yet';
  let reads = 0;
  let throttled = 0;
  for (let deadline = Date.now() + 60_000; ;) {
    assert.ok(Date.now() < deadline, `the batch reads partial within 60 s; last read: ${last}`);
    const read = await stack.api(`/v1/batches/${batchId}`, { key });
    reads++;
    if (read.status === 429) {
      const waitMs = Number(read.headers.get('retry-after') ?? 1) * 1000;
      throttled++;
      deadline += waitMs;
      await sleep(waitMs);
      continue;
    }
    assert.equal(read.status, 200);
    const view = (await read.json()) as { status: string; counts: { pending: number } };
    last = `${view.status} ${JSON.stringify(view.counts)}`;
    if (view.status === 'partial') return `${reads}${throttled ? ` (${throttled} throttled)` : ''}`;
    if (view.counts.pending > 0) await sleep(100);
  }
}

test(
  'redrive right after GET first reads the batch as finished is accepted (202), not refused',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    // A client that polls until the batch reads `partial` and then redrives at once: the row is
    // final, so the contract's "on a finished batch as well" applies.
    const target = await startPublishTarget();
    const stack = await startStack({ publishUrl: target.url });
    try {
      const answers: string[] = [];
      const reads: string[] = [];
      for (let round = 0; round < 5; round++) {
        // Each round is a tenant of its own, with a read budget (600 a minute) of its own.
        const { key } = await stack.addTenant();
        target.faults.rejectRefs = new Set(['sku-1']);
        const batchId = await submit(stack, { items: items(4), chunk_size: 4 }, key);
        const polled = await pollUntilPartial(stack, batchId, key);
        reads.push(polled);
        target.faults.rejectRefs = undefined;
        const r = await call(stack, 'POST', `/v1/batches/${batchId}/retry-failed`, undefined, key);
        answers.push(`${r.status} ${JSON.stringify(r.body)}`);
        // Whatever it answered, let the batch settle before the next round.
        await finished(stack, batchId, key);
      }
      t.diagnostic(answers.join(' | '));
      t.diagnostic(`reads per round until partial: ${reads.join(', ')}`);
      assert.deepEqual(
        answers.filter((a) => !a.startsWith('202 ')),
        [],
        'every immediate redrive of a finished batch is accepted',
      );
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);

test(
  'redrive of a running batch (the retryFailed update): failed items run again in the same run',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const rejected = ['sku-1', 'sku-2'];
    const target = await startPublishTarget({ latencyMs: 300, rejectRefs: new Set(rejected) });
    const stack = await startStack({ publishUrl: target.url });
    try {
      const total = 60;
      const batchId = await submit(stack, { items: items(total), chunk_size: 4, max_parallel_chunks: 1 });
      const withFailures = await waitForBatch(
        stack,
        batchId,
        (b) => (b as unknown as BatchBody).counts.failed >= rejected.length || FINISHED.includes(b.status),
        60_000,
      );
      assert.equal(withFailures.status, 'running', 'the batch is still running when its failures are recorded');
      assert.equal(withFailures.counts.failed, rejected.length);
      const runId = (await stack.client.workflow.getHandle(workflowIdFor(batchId)).describe()).runId;

      target.faults.rejectRefs = undefined;
      const redrive = await call(stack, 'POST', `/v1/batches/${batchId}/retry-failed`);
      assert.equal(redrive.status, 202, JSON.stringify(redrive.body));
      assert.equal(redrive.body.retried, rejected.length);
      assert.equal(redrive.body.status, 'running');
      assert.equal((await getBatch(stack, batchId)).counts.failed, 0, 'the redriven items are pending again');

      const ended = await finished(stack, batchId);
      assert.equal(ended.status, 'completed', JSON.stringify(ended.counts));
      await assertCompletedOnce(stack, batchId, total, target);
      for (const ref of rejected) {
        assert.deepEqual(
          target.creates.filter((c) => c.ref === ref).map((c) => c.status),
          [422, 201],
          `${ref}: rejected once, then created once`,
        );
      }
      assert.equal(
        (await stack.client.workflow.getHandle(workflowIdFor(batchId)).describe()).runId,
        runId,
        'redriven within the same run (an update), not a new one',
      );
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);

test(
  'live progress stays consistent during a redrive (pending ≥ 0, published ≤ total, percent ≤ 100)',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    // Three rejected refs in three chunks; the redrive runs them against a slow target so its
    // progress is observable between the redriven chunks.
    const rejected = ['sku-1', 'sku-5', 'sku-9'];
    const target = await startPublishTarget({ rejectRefs: new Set(rejected) });
    const stack = await startStack({ publishUrl: target.url });
    try {
      const total = 12;
      const batchId = await submit(stack, { items: items(total), chunk_size: 4, max_parallel_chunks: 1 });
      assert.equal((await finished(stack, batchId)).status, 'partial');
      await runClosed(stack, batchId);
      target.faults.rejectRefs = undefined;
      target.faults.latencyMs = 400;
      const redrive = await call(stack, 'POST', `/v1/batches/${batchId}/retry-failed`);
      assert.equal(redrive.status, 202, JSON.stringify(redrive.body));

      const seen: Array<{ status: string; counts: Counts; progress_percent: number }> = [];
      await waitForBatch(stack, batchId, (b) => {
        const body = b as unknown as BatchBody;
        seen.push({ status: body.status, counts: body.counts, progress_percent: body.progress_percent });
        return FINISHED.includes(b.status);
      });
      const bad = seen.filter((s) => s.counts.pending < 0 || s.counts.published > total || s.progress_percent > 100);
      t.diagnostic(`${seen.length} reads during the redrive; inconsistent: ${bad.length}; first: ${JSON.stringify(bad[0] ?? null)}`);
      assert.deepEqual(bad, [], 'every read during the redrive has pending ≥ 0, published ≤ total, percent ≤ 100');
      assert.equal(seen[seen.length - 1]!.status, 'completed');
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);

test('bulk cancel: every running batch of the tenant, and none of another tenant', { timeout: TEST_TIMEOUT_MS }, async () => {
  const target = await startPublishTarget({ latencyMs: 300 });
  const stack = await startStack({ publishUrl: target.url });
  try {
    const other = await stack.addTenant();
    const slow = { items: items(40), chunk_size: 2, max_parallel_chunks: 1 };
    const a = await submit(stack, slow);
    const b = await submit(stack, slow);
    const theirs = await submit(stack, slow, other.key);
    const running = async (key?: string): Promise<string[]> => {
      const res = await stack.api('/v1/batches?status=running', { key });
      assert.equal(res.status, 200);
      return ((await res.json()) as { batches: BatchBody[] }).batches.map((x) => x.batch_id);
    };
    await eventually('both batches running', async () => {
      const ids = await running();
      return ids.includes(a) && ids.includes(b);
    });
    await eventually("the other tenant's batch running", async () => (await running(other.key)).includes(theirs));

    assertError(
      await call(stack, 'POST', '/v1/batches/cancel', { status: 'completed' }),
      400,
      'validation_failed',
      'bulk cancel of completed',
    );
    assertError(await call(stack, 'POST', '/v1/batches/cancel', {}), 400, 'validation_failed', 'bulk cancel without status');
    assertError(
      await call(stack, 'POST', '/v1/batches/cancel', { status: 'running', rollback: 'yes' }),
      400,
      'validation_failed',
      'bulk cancel with a bad rollback',
    );
    assertError(
      await call(stack, 'POST', '/v1/batches/cancel', { status: 'running', extra: 1 }),
      400,
      'validation_failed',
      'bulk cancel with an unknown field',
    );

    const res = await call(stack, 'POST', '/v1/batches/cancel', { status: 'running' });
    assert.ok(res.status === 200 || res.status === 202, `bulk cancel answered ${res.status}: ${JSON.stringify(res.body)}`);
    assert.deepEqual([...(res.body.cancelled as string[])].sort(), [a, b].sort());

    for (const id of [a, b]) assert.equal((await finished(stack, id)).status, 'cancelled', `${id} ends cancelled`);
    const theirsNow = await getBatch(stack, theirs, other.key);
    assert.equal(theirsNow.status, 'running', "the other tenant's batch is untouched");
    const theirCreates = target.creates.filter((c) => c.key.startsWith(`${theirs}:`)).length;
    await eventually(
      "the other tenant's batch to go on publishing",
      () => target.creates.filter((c) => c.key.startsWith(`${theirs}:`)).length > theirCreates,
      30_000,
    );

    // Nothing of ours is running any more: a second bulk cancel finds nothing.
    const again = await call(stack, 'POST', '/v1/batches/cancel', { status: 'running' });
    assert.deepEqual(again.body.cancelled, []);
    // Clean up the other tenant's batch with its own key.
    assert.equal((await call(stack, 'POST', `/v1/batches/${theirs}/cancel`, {}, other.key)).status, 202);
    assert.equal((await finished(stack, theirs, other.key)).status, 'cancelled');
  } finally {
    await stack.stop();
    await target.close();
  }
});

test(
  "pause, resume, PATCH and retry-failed: 404 for an unknown or another tenant's batch, 409 for a finished one",
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const stack = await startStack();
    try {
      const unknown = 'b_01JUNKNOWNUNKNOWNUNKNOWN00';
      for (const [method, action, body] of [
        ['POST', 'pause', undefined],
        ['POST', 'resume', undefined],
        ['POST', 'retry-failed', undefined],
        ['PATCH', '', { max_parallel_chunks: 2 }],
      ] as const) {
        assertError(
          await call(stack, method, `/v1/batches/${unknown}${action ? `/${action}` : ''}`, body),
          404,
          'not_found',
          `${method} ${action || 'PATCH'} on an unknown batch`,
        );
      }

      const batchId = await submit(stack, { items: items(4), chunk_size: 2 });
      assert.equal((await finished(stack, batchId)).status, 'completed');
      const other = await stack.addTenant();
      assertError(
        await call(stack, 'POST', `/v1/batches/${batchId}/pause`, undefined, other.key),
        404,
        'not_found',
        "pause of another tenant's batch",
      );
      assertError(
        await call(stack, 'POST', `/v1/batches/${batchId}/retry-failed`, undefined, other.key),
        404,
        'not_found',
        "retry-failed of another tenant's batch",
      );
      assertError(await call(stack, 'POST', `/v1/batches/${batchId}/pause`), 409, 'conflict', 'pause on a finished batch');
      assertError(await call(stack, 'POST', `/v1/batches/${batchId}/resume`), 409, 'conflict', 'resume on a finished batch');
      assertError(
        await call(stack, 'PATCH', `/v1/batches/${batchId}`, { max_failure_ratio: 0.5 }),
        409,
        'conflict',
        'PATCH on a finished batch',
      );
      assert.equal((await getBatch(stack, batchId)).status, 'completed', 'the refused actions changed nothing');
    } finally {
      await stack.stop();
    }
  },
);
