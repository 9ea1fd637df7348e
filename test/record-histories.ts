/**
 * Records the workflow histories that `test/replay.test.ts` replays: `npx tsx test/record-histories.ts`
 * records every scenario; `... NAME...` records the named ones. The committed files are the 0.1
 * baseline (see test/histories/README.md): re-record only when a scenario is added or the
 * workflow's shape changes on purpose, never to make a failing replay pass.
 *
 * Each scenario runs for real — the worker and activities of `startStack()` on an in-memory PGlite,
 * against the dev server at TEMPORAL_TEST_ADDRESS or one started for this script — and its history
 * is written to `test/histories/<name>.json` in the SDK's history JSON (what `historyToJSON` writes and `historyFromJSON` reads). Batches are
 * tens of items, so the files stay small. See test/histories/README.md for when to re-record.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON, type History } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ulid } from 'ulid';
import { emptyCounts, STAGES, workflowIdFor, type BatchOptions, type BatchWorkflowInput } from '../src/contracts/workflow';
import { insertBatch } from '../src/db/batches';
import { startPublishTarget, type PublishTarget } from './helpers/publish-target';
import { FAST_RETRY, items, startStack, waitForBatch, type Stack } from './helpers/stack';
import { stopOwnServer } from './helpers/temporal';
import { startWebhookReceiver } from './helpers/webhook-receiver';
import { webhookWorkflowIdFor } from '../src/contracts/webhook';

// Recordings do not depend on which database ran the activities; PGlite needs nothing installed.
delete process.env.DATABASE_URL;
Runtime.install({ logger: new DefaultLogger('ERROR') });

const OUT_DIR = path.join(__dirname, 'histories');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function submit(stack: Stack, body: Record<string, unknown>): Promise<string> {
  const res = await stack.api('/v1/batches', { method: 'POST', body: JSON.stringify(body) });
  const json = (await res.json()) as { batch_id: string };
  if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${JSON.stringify(json)}`);
  return json.batch_id;
}

async function save(name: string, history: History, expectLast: (e: NonNullable<History['events']>[number]) => boolean): Promise<void> {
  const events = history.events ?? [];
  const last = events[events.length - 1];
  if (!last || !expectLast(last)) throw new Error(`${name}: the history does not end as this scenario should (${last?.eventType})`);
  const file = path.join(OUT_DIR, `${name}.json`);
  await fs.writeFile(file, `${historyToJSON(history)}\n`);
  console.log(`wrote ${path.relative(process.cwd(), file)}: ${events.length} events`);
}

const fetchRun = (client: Client, workflowId: string, runId?: string): Promise<History> =>
  client.workflow.getHandle(workflowId, runId).fetchHistory();

/** Runs `scenario` on a fresh stack (and publish target, if asked for), tearing both down after. */
async function withStack(
  faults: Parameters<typeof startPublishTarget>[0] | null,
  scenario: (stack: Stack, target?: PublishTarget) => Promise<void>,
): Promise<void> {
  const target = faults ? await startPublishTarget(faults) : undefined;
  const stack = await startStack({ publishUrl: target?.url });
  try {
    await scenario(stack, target);
  } finally {
    await stack.stop();
    await target?.close();
  }
}

type Scenario = () => Promise<void>;
type HistoryEvent = NonNullable<History['events']>[number];

const completedEvent = (e: HistoryEvent): boolean => !!e.workflowExecutionCompletedEventAttributes;

/** The activity types a history schedules, in order. */
const activityTypes = (h: History): string[] =>
  (h.events ?? []).flatMap((e) =>
    e.activityTaskScheduledEventAttributes?.activityType?.name ? [e.activityTaskScheduledEventAttributes.activityType.name] : [],
  );
const signalNames = (h: History): string[] =>
  (h.events ?? []).flatMap((e) =>
    e.workflowExecutionSignaledEventAttributes?.signalName ? [e.workflowExecutionSignaledEventAttributes.signalName] : [],
  );
const acceptedUpdates = (h: History): string[] =>
  (h.events ?? []).flatMap((e) =>
    e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name
      ? [e.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest.input.name]
      : [],
  );
/** The values a search attribute was upserted to, in order (the JSON payload converter's encoding). */
function upserted(h: History, key: string): unknown[] {
  return (h.events ?? []).flatMap((e) => {
    const data = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.[key]?.data;
    return data ? [JSON.parse(Buffer.from(data).toString('utf8')) as unknown] : [];
  });
}

/** The run's input (the JSON payload converter's encoding). */
function runInput(h: History): BatchWorkflowInput {
  const data = h.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
  if (!data) throw new Error('the history has no started event with an input');
  return JSON.parse(Buffer.from(data).toString('utf8')) as BatchWorkflowInput;
}

function check(name: string, ok: boolean, what: string): void {
  if (!ok) throw new Error(`${name}: ${what}`);
}

/** Waits for the workflow (its latest run) to close, so that its history is whole. */
const closed = (stack: Stack, batchId: string): Promise<unknown> =>
  stack.client.workflow
    .getHandle(workflowIdFor(batchId))
    .result()
    .catch(() => undefined);

async function post(stack: Stack, pathname: string, body?: unknown, method = 'POST'): Promise<Record<string, unknown>> {
  const res = await stack.api(pathname, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 202) throw new Error(`${method} ${pathname} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

/** Every scenario, by the name of the file it writes (continue-as-new writes two). */
const SCENARIOS: Record<string, Scenario> = {
  // (a) A small batch that completes, published to the built-in catalog.
  completed: () =>
    withStack(null, async (stack) => {
      const batchId = await submit(stack, { items: items(12), chunk_size: 4, max_parallel_chunks: 2 });
      const ended = await waitForBatch(stack, batchId);
      if (ended.status !== 'completed') throw new Error(`completed: ended ${ended.status}`);
      await save('completed', await fetchRun(stack.client, workflowIdFor(batchId)), (e) => !!e.workflowExecutionCompletedEventAttributes);
    }),

  // (b) A batch that continues as new: its first run (ends in ContinuedAsNew) and its last.
  // Writes continue-as-new-first.json and continue-as-new-last.json.
  'continue-as-new': () =>
    withStack(null, async (stack) => {
      const total = 24;
      const batchId = `b_${ulid()}`;
      const options: BatchOptions = {
        stages: [...STAGES],
        chunkSize: 2,
        maxParallelChunks: 2,
        priority: 'normal',
        onCancel: 'keep',
        maxFailureRatio: 1,
      };
      await insertBatch(
        stack.db.db,
        {
          id: batchId,
          tenant_id: stack.tenantId,
          status: 'queued',
          priority: 'normal',
          options: JSON.stringify(options),
          metadata: '{}',
          callback_url: null,
          total_items: total,
          counts: JSON.stringify(emptyCounts(total)),
          error: null,
          idempotency_key: null,
          request_hash: null,
          workflow_id: workflowIdFor(batchId),
        },
        items(total).map((i) => ({ ref: i.ref, text: i.text, content: null, contentType: null, attributes: null })),
      );
      const input: BatchWorkflowInput = {
        batchId,
        tenantId: stack.tenantId,
        totalItems: total,
        options,
        retry: FAST_RETRY,
        historyLimit: 60,
      };
      const handle = await stack.client.workflow.start('batchWorkflow', {
        taskQueue: stack.taskQueue,
        workflowId: workflowIdFor(batchId),
        args: [input],
      });
      await handle.result();
      const first = await fetchRun(stack.client, handle.workflowId, handle.firstExecutionRunId);
      const last = await fetchRun(stack.client, handle.workflowId);
      await save('continue-as-new-first', first, (e) => !!e.workflowExecutionContinuedAsNewEventAttributes);
      await save('continue-as-new-last', last, (e) => !!e.workflowExecutionCompletedEventAttributes);
    }),

  // (c) Cancelled by the API's signal once some items are published.
  'cancelled-by-signal': () =>
    withStack({ latencyMs: 300 }, async (stack, target) => {
      const batchId = await submit(stack, { items: items(40), chunk_size: 4, max_parallel_chunks: 2 });
      await until('a first published item', () => target!.items.size > 0);
      const res = await stack.api(`/v1/batches/${batchId}/cancel`, { method: 'POST', body: '{}' });
      if (res.status !== 202) throw new Error(`cancel answered ${res.status}`);
      const ended = await waitForBatch(stack, batchId);
      if (ended.status !== 'cancelled') throw new Error(`cancelled-by-signal: ended ${ended.status}`);
      await save(
        'cancelled-by-signal',
        await fetchRun(stack.client, workflowIdFor(batchId)),
        (e) => !!e.workflowExecutionCompletedEventAttributes,
      );
    }),

  // (d) Partial: the target rejects some refs for good.
  'partial-rejected': () =>
    withStack({ rejectRefs: new Set(['sku-2', 'sku-7']) }, async (stack) => {
      const batchId = await submit(stack, { items: items(12), chunk_size: 4, max_parallel_chunks: 2 });
      const ended = await waitForBatch(stack, batchId);
      if (ended.status !== 'partial') throw new Error(`partial-rejected: ended ${ended.status}`);
      await save(
        'partial-rejected',
        await fetchRun(stack.client, workflowIdFor(batchId)),
        (e) => !!e.workflowExecutionCompletedEventAttributes,
      );
    }),

  // (e) Cancelled from outside, as the Temporal UI or CLI does it.
  'cancelled-externally': () =>
    withStack({ latencyMs: 300 }, async (stack, target) => {
      const batchId = await submit(stack, { items: items(40), chunk_size: 4, max_parallel_chunks: 2 });
      await until('a first published item', () => target!.items.size > 0);
      const handle = stack.client.workflow.getHandle(workflowIdFor(batchId));
      await handle.cancel();
      await handle.result().catch(() => undefined);
      await save(
        'cancelled-externally',
        await fetchRun(stack.client, workflowIdFor(batchId)),
        (e) => !!e.workflowExecutionCanceledEventAttributes,
      );
    }),

  // A publish rejected (422) after ingest staged the item: the chunk's failed items are compensated.
  'saga-item-rejected': () =>
    withStack({ rejectRefs: new Set(['sku-1', 'sku-6']) }, async (stack) => {
      const batchId = await submit(stack, { items: items(12), chunk_size: 4, max_parallel_chunks: 2 });
      await closed(stack, batchId);
      const ended = await waitForBatch(stack, batchId);
      check(
        'saga-item-rejected',
        ended.status === 'partial' && ended.counts.failed === 2,
        `ended ${ended.status} ${JSON.stringify(ended.counts)}`,
      );
      const h = await fetchRun(stack.client, workflowIdFor(batchId));
      check('saga-item-rejected', activityTypes(h).includes('compensate'), 'no compensate activity scheduled');
      await save('saga-item-rejected', h, completedEvent);
    }),

  // Failures over max_failure_ratio: the batch stops, and everything it did is rolled back.
  'failure-ratio-rollback': () =>
    withStack({ rejectRefs: new Set(['sku-0', 'sku-1', 'sku-2', 'sku-3']) }, async (stack) => {
      const batchId = await submit(stack, { items: items(16), chunk_size: 4, max_parallel_chunks: 2, max_failure_ratio: 0.1 });
      await closed(stack, batchId);
      const ended = await waitForBatch(stack, batchId);
      check(
        'failure-ratio-rollback',
        ended.status === 'failed' && ended.rolled_back === true,
        `ended ${ended.status}, rolled_back ${String(ended.rolled_back)}`,
      );
      await save('failure-ratio-rollback', await fetchRun(stack.client, workflowIdFor(batchId)), completedEvent);
    }),

  // Cancelled with {"rollback": true} once some items are published: everything is undone.
  'cancelled-rollback': () =>
    withStack({ latencyMs: 300 }, async (stack, target) => {
      const batchId = await submit(stack, { items: items(24), chunk_size: 4, max_parallel_chunks: 2 });
      await until('a first published item', () => target!.items.size > 0);
      await post(stack, `/v1/batches/${batchId}/cancel`, { rollback: true });
      await closed(stack, batchId);
      const ended = await waitForBatch(stack, batchId);
      check(
        'cancelled-rollback',
        ended.status === 'cancelled' && ended.rolled_back === true && (ended.counts.compensated ?? 0) > 0,
        `ended ${ended.status} ${JSON.stringify(ended.counts)}`,
      );
      check('cancelled-rollback', target!.items.size === 0, `the target still holds ${target!.items.size} items`);
      await save('cancelled-rollback', await fetchRun(stack.client, workflowIdFor(batchId)), completedEvent);
    }),

  // Cancelled with {"rollback": false} while items wait out a 429's Retry-After between ingest and
  // publish: what was published stays, the staged-but-unpublished items are compensated.
  'cancelled-keep-compensated': () =>
    withStack({ latencyMs: 100 }, async (stack, target) => {
      const batchId = await submit(stack, { items: items(16), chunk_size: 4, max_parallel_chunks: 2 });
      await until('a first published item', () => target!.items.size > 0);
      Object.assign(target!.faults, { throttleRate: 1, retryAfterSeconds: 30 });
      await until('a throttled create', () => target!.creates.some((c) => c.status === 429));
      await post(stack, `/v1/batches/${batchId}/cancel`, { rollback: false });
      // The undo asks the target whether a throttled publish went through (in doubt) before it
      // calls the item undone: a target that throttled those questions too would orphan them.
      target!.faults.throttleRate = 0;
      await closed(stack, batchId);
      const ended = await waitForBatch(stack, batchId);
      check(
        'cancelled-keep-compensated',
        ended.status === 'cancelled' &&
          ended.rolled_back === false &&
          (ended.counts.compensated ?? 0) > 0 &&
          (ended.counts.published ?? 0) > 0,
        `ended ${ended.status} ${JSON.stringify(ended.counts)}`,
      );
      await save('cancelled-keep-compensated', await fetchRun(stack.client, workflowIdFor(batchId)), completedEvent);
    }),

  // A rollback whose DELETE the target refuses for good (400): the item ends `orphaned`.
  'rollback-orphaned': () =>
    withStack({ latencyMs: 200, failDeletes: { refs: new Set(['sku-0', 'sku-1']), status: 400 } }, async (stack, target) => {
      const batchId = await submit(stack, { items: items(12), chunk_size: 4, max_parallel_chunks: 1 });
      await until('sku-0 published', () => [...target!.items.values()].some((i) => i.ref === 'sku-0'));
      await post(stack, `/v1/batches/${batchId}/cancel`, { rollback: true });
      await closed(stack, batchId);
      const ended = await waitForBatch(stack, batchId);
      check(
        'rollback-orphaned',
        ended.status === 'cancelled' && (ended.counts.orphaned ?? 0) > 0,
        `ended ${ended.status} ${JSON.stringify(ended.counts)}`,
      );
      await save('rollback-orphaned', await fetchRun(stack.client, workflowIdFor(batchId)), completedEvent);
    }),

  // Paused once the first item is published, resumed when its in-flight chunk has ended.
  'paused-resumed': () =>
    withStack({ latencyMs: 200 }, async (stack, target) => {
      const batchId = await submit(stack, { items: items(16), chunk_size: 4, max_parallel_chunks: 1 });
      await until('a first published item', () => target!.items.size > 0);
      await post(stack, `/v1/batches/${batchId}/pause`);
      await until('in-flight work to end', () => target!.inFlight === 0);
      await sleep(1_500);
      await post(stack, `/v1/batches/${batchId}/resume`);
      await closed(stack, batchId);
      const ended = await waitForBatch(stack, batchId);
      check('paused-resumed', ended.status === 'completed', `ended ${ended.status}`);
      const h = await fetchRun(stack.client, workflowIdFor(batchId));
      check('paused-resumed', signalNames(h).join() === 'pause,resume', `signals ${signalNames(h).join()}`);
      await save('paused-resumed', h, completedEvent);
    }),

  // PATCH {"max_parallel_chunks": 3} mid-run: the configure update.
  configured: () =>
    withStack({ latencyMs: 200 }, async (stack, target) => {
      const batchId = await submit(stack, { items: items(16), chunk_size: 2, max_parallel_chunks: 1 });
      await until('a first published item', () => target!.items.size > 0);
      await post(stack, `/v1/batches/${batchId}`, { max_parallel_chunks: 3 }, 'PATCH');
      await closed(stack, batchId);
      const ended = await waitForBatch(stack, batchId);
      check('configured', ended.status === 'completed', `ended ${ended.status}`);
      const h = await fetchRun(stack.client, workflowIdFor(batchId));
      check('configured', acceptedUpdates(h).join() === 'configure', `updates ${acceptedUpdates(h).join()}`);
      await save('configured', h, completedEvent);
    }),

  // POST /retry-failed while the batch runs: the retryFailed update, in the same run.
  'redrive-running': () =>
    withStack({ latencyMs: 200, rejectRefs: new Set(['sku-1']) }, async (stack, target) => {
      const batchId = await submit(stack, { items: items(16), chunk_size: 4, max_parallel_chunks: 1 });
      await waitForBatch(stack, batchId, (b) => ((b.counts as Record<string, number>).failed ?? 0) > 0, 60_000);
      target!.faults.rejectRefs = undefined;
      const answer = await post(stack, `/v1/batches/${batchId}/retry-failed`);
      check('redrive-running', answer.retried === 1, `answered ${JSON.stringify(answer)}`);
      await closed(stack, batchId);
      const ended = await waitForBatch(stack, batchId);
      check('redrive-running', ended.status === 'completed', `ended ${ended.status}`);
      const h = await fetchRun(stack.client, workflowIdFor(batchId));
      check('redrive-running', acceptedUpdates(h).join() === 'retryFailed', `updates ${acceptedUpdates(h).join()}`);
      await save('redrive-running', h, completedEvent);
    }),

  // Transient failures (503, 429 with Retry-After): open items come back after a durable sleep.
  'transient-retried': async () => {
    let n = 0;
    // Deterministic faults: every third create fails, alternating 503 and 429 (Retry-After: 1).
    const target = await startPublishTarget(
      { errorRate: 1 / 3, throttleRate: 1 / 3, retryAfterSeconds: 1 },
      () => [0.1, 0.5, 0.9][n++ % 3]!,
    );
    const stack = await startStack({
      publishUrl: target.url,
      retry: { ...FAST_RETRY, publish: { ...FAST_RETRY.publish, maximumAttempts: 20 } },
    });
    try {
      const batchId = await submit(stack, { items: items(12), chunk_size: 4, max_parallel_chunks: 2 });
      await closed(stack, batchId);
      const ended = await waitForBatch(stack, batchId);
      check('transient-retried', ended.status === 'completed', `ended ${ended.status}`);
      const h = await fetchRun(stack.client, workflowIdFor(batchId));
      check(
        'transient-retried',
        (h.events ?? []).some((e) => !!e.timerStartedEventAttributes),
        'no durable backoff timer in the history',
      );
      await save('transient-retried', h, completedEvent);
    } finally {
      await stack.stop();
      await target.close();
    }
  },

  // Cancelled from the Temporal UI/CLI with the saga: on_cancel keep undoes items caught mid-pipeline.
  'cancelled-externally-saga': () =>
    withStack({ latencyMs: 300 }, async (stack, target) => {
      const batchId = await submit(stack, { items: items(40), chunk_size: 8, max_parallel_chunks: 2 });
      await until('a first published item', () => target!.items.size > 0);
      const handle = stack.client.workflow.getHandle(workflowIdFor(batchId));
      await handle.cancel();
      await handle.result().catch(() => undefined);
      const h = await fetchRun(stack.client, workflowIdFor(batchId));
      check('cancelled-externally-saga', activityTypes(h).includes('compensate'), 'no compensate activity scheduled');
      await save('cancelled-externally-saga', h, (e) => !!e.workflowExecutionCanceledEventAttributes);
    }),

  // POST /retry-failed on a finished (partial) batch: a new run started with `redriveFinished`.
  // The file is that second run.
  'redrive-finished': () =>
    withStack({ rejectRefs: new Set(['sku-2', 'sku-9']) }, async (stack, target) => {
      const batchId = await submit(stack, { items: items(12), chunk_size: 4, max_parallel_chunks: 2 });
      await closed(stack, batchId);
      const first = await waitForBatch(stack, batchId);
      check('redrive-finished', first.status === 'partial', `first run ended ${first.status}`);
      target!.faults.rejectRefs = undefined;
      const answer = await post(stack, `/v1/batches/${batchId}/retry-failed`);
      check('redrive-finished', answer.retried === 2, `answered ${JSON.stringify(answer)}`);
      await closed(stack, batchId);
      const ended = await waitForBatch(stack, batchId);
      check('redrive-finished', ended.status === 'completed', `ended ${ended.status}`);
      const h = await fetchRun(stack.client, workflowIdFor(batchId));
      check('redrive-finished', runInput(h).redriveFinished === true, 'the latest run was not started with redriveFinished');
      await save('redrive-finished', h, completedEvent);
    }),

  // A batch with a callback_url: its end starts the delivery workflow, a
  // child abandoned on close. Writes webhook-delivered.json (the batch's run) and
  // webhook-delivery.json (the delivery's own history: a 500, then delivered on the retry).
  'webhook-delivered': async () => {
    const receiver = await startWebhookReceiver((n) => (n === 0 ? 500 : 200));
    const stack = await startStack({
      allowPrivateCallbacks: true,
      webhook: { secret: 'recorder-webhook-secret', retry: { initialIntervalMs: 100, maximumIntervalMs: 200, maximumAttempts: 5 } },
    });
    try {
      const batchId = await submit(stack, {
        items: items(8),
        stages: ['classify'],
        chunk_size: 4,
        max_parallel_chunks: 2,
        callback_url: receiver.url,
      });
      await closed(stack, batchId);
      const ended = await waitForBatch(stack, batchId);
      check('webhook-delivered', ended.status === 'completed', `ended ${ended.status}`);
      const { runId } = await stack.client.workflow.getHandle(workflowIdFor(batchId)).describe();
      const delivery = stack.client.workflow.getHandle(webhookWorkflowIdFor(batchId, runId));
      const outcome = (await delivery.result()) as { status: string; attempts: number };
      check('webhook-delivered', outcome.status === 'delivered' && outcome.attempts === 2, `delivery ${JSON.stringify(outcome)}`);
      const h = await fetchRun(stack.client, workflowIdFor(batchId));
      check('webhook-delivered', runInput(h).webhook === true, 'the run was not started with webhook: true');
      check(
        'webhook-delivered',
        (h.events ?? []).some((e) => !!e.startChildWorkflowExecutionInitiatedEventAttributes),
        'no child workflow started',
      );
      await save('webhook-delivered', h, completedEvent);
      await save('webhook-delivery', await fetchRun(stack.client, delivery.workflowId), completedEvent);
    } finally {
      await stack.stop();
      await receiver.close();
    }
  },

  // The search attributes follow the batch (paused, running again, the
  // failed count as it grows), and stage activities carry summaries for the Temporal UI.
  'visibility-kept-current': () =>
    withStack({ latencyMs: 200, rejectRefs: new Set(['sku-1']) }, async (stack, target) => {
      const batchId = await submit(stack, { items: items(16), chunk_size: 4, max_parallel_chunks: 1 });
      await until('a first published item', () => target!.items.size > 0);
      await post(stack, `/v1/batches/${batchId}/pause`);
      await until('in-flight work to end', () => target!.inFlight === 0);
      await sleep(1_000);
      await post(stack, `/v1/batches/${batchId}/resume`);
      await closed(stack, batchId);
      const ended = await waitForBatch(stack, batchId);
      check('visibility-kept-current', ended.status === 'partial', `ended ${ended.status}`);
      const h = await fetchRun(stack.client, workflowIdFor(batchId));
      const shown = upserted(h, 'BatchStatus');
      check('visibility-kept-current', shown.join() === 'paused,running,partial', `BatchStatus upserted as ${shown.join()}`);
      // The failure comes with the chunk's end; the pause usually lands in the same report.
      check(
        'visibility-kept-current',
        upserted(h, 'FailedCount').join() === '1,1',
        `FailedCount upserted as ${upserted(h, 'FailedCount').join()}`,
      );
      const summaries = (h.events ?? []).filter((e) => !!e.activityTaskScheduledEventAttributes && !!e.userMetadata?.summary).length;
      check('visibility-kept-current', summaries >= 12, `${summaries} activities with a summary`);
      await save('visibility-kept-current', h, completedEvent);
    }),
};

const USAGE = `usage: npx tsx test/record-histories.ts [--all | NAME...]
  no argument, --all  records every scenario: ${Object.keys(SCENARIOS).join(', ')}
  NAME...             records just these`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const all = SCENARIOS;
  if (args.includes('--help') || args.includes('-h')) return void console.log(USAGE);
  const names = args.length === 0 || args.includes('--all') ? Object.keys(all) : args;
  const unknown = names.filter((n) => !(n in all));
  if (unknown.length > 0) throw new Error(`unknown scenario(s): ${unknown.join(', ')}\n${USAGE}`);
  await fs.mkdir(OUT_DIR, { recursive: true });
  for (const name of names) await all[name]!();
}

main()
  .then(async () => {
    await stopOwnServer();
    process.exit(0);
  })
  .catch(async (err: unknown) => {
    console.error(err);
    await stopOwnServer();
    process.exit(1);
  });
