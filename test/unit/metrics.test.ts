/**
 * The observability pieces that need no stack: what the activity interceptor counts and adds to
 * log lines, how progress queries are counted, which SDK log lines reach pino, and the logger's
 * redaction of secrets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { createHandles } from '../../src/batches/handle';
import type { BatchRow } from '../../src/db/schema';
import { metricsInterceptors } from '../../src/metrics/activity-interceptor';
import { compensationsTotal, itemsTotal, progressQueriesTotal } from '../../src/metrics/registry';
import { temporalLogger } from '../../src/metrics/temporal-logger';
import { createLogger } from '../../src/logger';

function collect(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const valueOf = async (
  counter: typeof itemsTotal | typeof compensationsTotal | typeof progressQueriesTotal,
  labels: Record<string, string>,
): Promise<number> =>
  (await counter.get()).values
    .filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x))
    .reduce((s, v) => s + v.value, 0);

test('a stage call counts the items it recorded (after minus before), its transient failures, and tags its log lines', async () => {
  const ctx = { info: { activityType: 'publish' } } as unknown as Context;
  const { inbound, outbound } = metricsInterceptors(ctx);
  const input = { batchId: 'b_1', tenantId: 't', stage: 'publish', chunkIndex: 4, range: { from: 0, to: 5 } };
  const before = {
    succeeded: await valueOf(itemsTotal, { stage: 'publish', outcome: 'succeeded' }),
    retried: await valueOf(itemsTotal, { stage: 'publish', outcome: 'retried' }),
  };
  let attrs: Record<string, unknown> = {};
  await inbound!.execute!({ args: [input], headers: {} }, async () => {
    attrs = outbound!.getLogAttributes!({ activityType: 'publish' }, (a) => a);
    // A retried call: 2 items had succeeded before it, 5 now; 1 still open after a 503.
    return {
      succeeded: 5,
      failed: 0,
      needsReview: 0,
      alreadyDone: 2,
      before: { succeeded: 2, failed: 0, needsReview: 0 },
      transient: 1,
      retryAfterMs: 0,
    };
  });
  assert.deepEqual(attrs, { activityType: 'publish', batchId: 'b_1', stage: 'publish', chunk: 4 });
  assert.equal((await valueOf(itemsTotal, { stage: 'publish', outcome: 'succeeded' })) - before.succeeded, 3);
  assert.equal((await valueOf(itemsTotal, { stage: 'publish', outcome: 'retried' })) - before.retried, 1);
});

test('compensate counts undone and orphaned; a failing activity counts nothing and still fails', async () => {
  const undone = await valueOf(compensationsTotal, { outcome: 'undone' });
  const orphaned = await valueOf(compensationsTotal, { outcome: 'orphaned' });
  const { inbound } = metricsInterceptors({ info: { activityType: 'compensate' } } as unknown as Context);
  await inbound!.execute!({ args: [{ batchId: 'b_2' }], headers: {} }, async () => ({ undone: 4, orphaned: 1 }));
  await assert.rejects(
    inbound!.execute!({ args: [{ batchId: 'b_2' }], headers: {} }, async () => Promise.reject(new Error('db down'))),
    /db down/,
  );
  assert.equal((await valueOf(compensationsTotal, { outcome: 'undone' })) - undone, 4);
  assert.equal((await valueOf(compensationsTotal, { outcome: 'orphaned' })) - orphaned, 1);
});

test("the Temporal logger passes activity and workflow lines at the app's level, and the SDK's own only from warn", () => {
  const out = collect();
  const logger = temporalLogger(pino({ level: 'debug' }, out.stream));
  logger.debug('waiting for a slot', { sdkComponent: 'activity', batchId: 'b_1' });
  logger.info('Worker state changed', { sdkComponent: 'worker' });
  logger.warn('Activity failed', { sdkComponent: 'worker', batchId: 'b_1' });
  assert.deepEqual(
    out.lines().map((l) => [l.msg, l.batchId]),
    [
      ['waiting for a slot', 'b_1'],
      ['Activity failed', 'b_1'],
    ],
  );
});

test('the logger redacts keys, secrets and auth headers, and trims callback URLs to origin and path', () => {
  const out = collect();
  const log = createLogger('info', 'test', out.stream);
  log.info(
    {
      req: { headers: { authorization: 'Bearer bf_live_x', 'x-api-key': 'bf_live_y', cookie: 'c' } },
      apiKey: 'k',
      batch: { callback_url: 'https://user:pw@hooks.example/cb?token=abc', secret: 's' },
    },
    'x',
  );
  const [line] = out.lines();
  const text = JSON.stringify(line);
  for (const secret of ['bf_live_x', 'bf_live_y', 'token=abc', 'user:pw', '"s"'])
    assert.ok(!text.includes(secret), `${secret} is not logged: ${text}`);
  assert.equal((line!.batch as Record<string, unknown>).callback_url, 'https://hooks.example/cb?[redacted]');
});

test('a progress query counts as ok, failed, or timeout (no answer within its deadline)', async () => {
  // What grpc-js rejects with when a call's deadline passes (code 4: DEADLINE_EXCEEDED).
  const deadline = Object.assign(new Error('4 DEADLINE_EXCEEDED: Deadline exceeded'), {
    code: 4,
    details: 'Deadline exceeded',
    metadata: {},
  });
  const answers: Array<() => unknown> = [
    () => ({ status: 'running' }),
    () => {
      throw new Error('workflow task failed');
    },
    () => {
      throw deadline;
    },
  ];
  const client = {
    withDeadline: (_at: number, fn: () => Promise<unknown>) => fn(),
    workflow: { getHandle: () => ({ query: async () => answers.shift()!() }) },
  } as unknown as Client;
  const handleFor = createHandles({ client, log: pino({ level: 'silent' }), reconciler: { settle: async () => 'open' } });
  const count = async () => ({
    ok: await valueOf(progressQueriesTotal, { outcome: 'ok' }),
    failed: await valueOf(progressQueriesTotal, { outcome: 'failed' }),
    timeout: await valueOf(progressQueriesTotal, { outcome: 'timeout' }),
  });
  const before = await count();
  const row = { id: 'b_1', workflow_id: 'batch-b_1' } as BatchRow;
  assert.deepEqual(await handleFor(row).progress(), { status: 'running' });
  assert.equal(await handleFor(row).progress(), null, 'a failed query answers null: the row answers');
  assert.equal(await handleFor(row).progress(), null);
  const after = await count();
  assert.deepEqual(
    { ok: after.ok - before.ok, failed: after.failed - before.failed, timeout: after.timeout - before.timeout },
    { ok: 1, failed: 1, timeout: 1 },
  );
});
