/**
 * Records the workflow histories that `test/replay.test.ts` replays: `npx tsx test/record-histories.ts`.
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

const fetchRun = (client: Client, workflowId: string, runId?: string): Promise<History> => client.workflow.getHandle(workflowId, runId).fetchHistory();

/** Runs `scenario` on a fresh stack (and publish target, if asked for), tearing both down after. */
async function withStack(faults: Parameters<typeof startPublishTarget>[0] | null, scenario: (stack: Stack, target?: PublishTarget) => Promise<void>): Promise<void> {
  const target = faults ? await startPublishTarget(faults) : undefined;
  const stack = await startStack({ publishUrl: target?.url });
  try {
    await scenario(stack, target);
  } finally {
    await stack.stop();
    await target?.close();
  }
}

async function main(): Promise<void> {
  await fs.mkdir(OUT_DIR, { recursive: true });

  // (a) A small batch that completes, published to the built-in catalog.
  await withStack(null, async (stack) => {
    const batchId = await submit(stack, { items: items(12), chunk_size: 4, max_parallel_chunks: 2 });
    const ended = await waitForBatch(stack, batchId);
    if (ended.status !== 'completed') throw new Error(`completed: ended ${ended.status}`);
    await save('completed', await fetchRun(stack.client, workflowIdFor(batchId)), (e) => !!e.workflowExecutionCompletedEventAttributes);
  });

  // (b) A batch that continues as new: its first run (ends in ContinuedAsNew) and its last.
  await withStack(null, async (stack) => {
    const total = 24;
    const batchId = `b_${ulid()}`;
    const options: BatchOptions = { stages: [...STAGES], chunkSize: 2, maxParallelChunks: 2, priority: 'normal', onCancel: 'keep', maxFailureRatio: 1 };
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
    const input: BatchWorkflowInput = { batchId, tenantId: stack.tenantId, totalItems: total, options, retry: FAST_RETRY, historyLimit: 60 };
    const handle = await stack.client.workflow.start('batchWorkflow', { taskQueue: stack.taskQueue, workflowId: workflowIdFor(batchId), args: [input] });
    await handle.result();
    const first = await fetchRun(stack.client, handle.workflowId, handle.firstExecutionRunId);
    const last = await fetchRun(stack.client, handle.workflowId);
    await save('continue-as-new-first', first, (e) => !!e.workflowExecutionContinuedAsNewEventAttributes);
    await save('continue-as-new-last', last, (e) => !!e.workflowExecutionCompletedEventAttributes);
  });

  // (c) Cancelled by the API's signal once some items are published.
  await withStack({ latencyMs: 300 }, async (stack, target) => {
    const batchId = await submit(stack, { items: items(40), chunk_size: 4, max_parallel_chunks: 2 });
    await until('a first published item', () => target!.items.size > 0);
    const res = await stack.api(`/v1/batches/${batchId}/cancel`, { method: 'POST', body: '{}' });
    if (res.status !== 202) throw new Error(`cancel answered ${res.status}`);
    const ended = await waitForBatch(stack, batchId);
    if (ended.status !== 'cancelled') throw new Error(`cancelled-by-signal: ended ${ended.status}`);
    await save('cancelled-by-signal', await fetchRun(stack.client, workflowIdFor(batchId)), (e) => !!e.workflowExecutionCompletedEventAttributes);
  });

  // (d) Partial: the target rejects some refs for good.
  await withStack({ rejectRefs: new Set(['sku-2', 'sku-7']) }, async (stack) => {
    const batchId = await submit(stack, { items: items(12), chunk_size: 4, max_parallel_chunks: 2 });
    const ended = await waitForBatch(stack, batchId);
    if (ended.status !== 'partial') throw new Error(`partial-rejected: ended ${ended.status}`);
    await save('partial-rejected', await fetchRun(stack.client, workflowIdFor(batchId)), (e) => !!e.workflowExecutionCompletedEventAttributes);
  });

  // (e) Cancelled from outside, as the Temporal UI or CLI does it.
  await withStack({ latencyMs: 300 }, async (stack, target) => {
    const batchId = await submit(stack, { items: items(40), chunk_size: 4, max_parallel_chunks: 2 });
    await until('a first published item', () => target!.items.size > 0);
    const handle = stack.client.workflow.getHandle(workflowIdFor(batchId));
    await handle.cancel();
    await handle.result().catch(() => undefined);
    await save('cancelled-externally', await fetchRun(stack.client, workflowIdFor(batchId)), (e) => !!e.workflowExecutionCanceledEventAttributes);
  });
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
