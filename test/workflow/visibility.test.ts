/**
 * What the Temporal UI reads about a batch, checked through the client: the search attributes kept
 * current by the workflow as the batch runs, the static summary and details set at start, and
 * the activity summaries in the history.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { History } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ulid } from 'ulid';
import { emptyCounts, STAGES, workflowIdFor, type BatchOptions, type BatchWorkflowInput } from '../../src/contracts/workflow';
import { insertBatch } from '../../src/db/batches';
import { BatchStatusKey, FailedCountKey, ItemCountKey, PriorityKey, TenantIdKey } from '../../src/temporal/search-attributes';
import { eventually, submit } from '../helpers/api';
import { startPublishTarget, type PublishTarget } from '../helpers/publish-target';
import { SHIPPED, items, startStack, waitForBatch, type Stack } from '../helpers/stack';

Runtime.install({ logger: new DefaultLogger('ERROR') });

const WAIT_MS = 120_000;

let stack: Stack;
let target: PublishTarget;

before(async () => {
  target = await startPublishTarget({ latencyMs: 100, rejectRefs: new Set(['sku-3', 'sku-17']) });
  stack = await startStack({ publishUrl: target.url });
});

after(async () => {
  await stack?.stop();
  await target?.close();
});

/**
 * The batch's end as the row says it, once its run has closed too: the row turns final in
 * finishBatch, one workflow task before the run records its last search attribute upsert.
 */
async function finished(s: Stack, batchId: string): Promise<Awaited<ReturnType<typeof waitForBatch>>> {
  const ended = await waitForBatch(s, batchId, undefined, WAIT_MS);
  await s.client.workflow.getHandle(workflowIdFor(batchId)).result();
  return ended;
}

const describeBatch = (batchId: string): Promise<WorkflowExecutionDescription> =>
  stack.client.workflow.getHandle(workflowIdFor(batchId)).describe();
const history = (batchId: string): Promise<History> => stack.client.workflow.getHandle(workflowIdFor(batchId)).fetchHistory();
const post = async (path: string, body?: unknown): Promise<void> => {
  const res = await stack.api(path, { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  assert.equal(res.status, 202, await res.text());
};

/** Each search attribute upsert of the history, decoded: `[{BatchStatus: 'paused'}, ...]`. */
function upserts(h: History): Array<Record<string, unknown>> {
  return (h.events ?? []).flatMap((e) => {
    const fields = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields;
    if (!fields) return [];
    const decoded = Object.fromEntries(Object.entries(fields).map(([k, p]) => [k, defaultPayloadConverter.fromPayload(p)]));
    return 'TemporalChangeVersion' in decoded ? [] : [decoded];
  });
}

/** The activity type and summary of each ActivityTaskScheduled event. */
function scheduled(h: History): Array<{ type: string; summary: string | undefined }> {
  return (h.events ?? []).flatMap((e) => {
    const a = e.activityTaskScheduledEventAttributes;
    if (!a) return [];
    const summary = e.userMetadata?.summary ? (defaultPayloadConverter.fromPayload(e.userMetadata.summary) as string) : undefined;
    return [{ type: a.activityType?.name ?? '', summary }];
  });
}

const STAGE_TYPES = new Set(['classify', 'ingest', 'publish']);

describe('what the Temporal UI shows about a batch', { timeout: WAIT_MS * 4 }, () => {
  test('search attributes, static summary and details: running at start, completed at the end', { timeout: WAIT_MS }, async () => {
    const batchId = await submit(stack, {
      items: items(60),
      stages: ['classify'],
      chunk_size: 10,
      max_parallel_chunks: 1,
      metadata: { corridor: 'MX_US' },
    });
    const first = await describeBatch(batchId);
    const sa = first.typedSearchAttributes;
    // Set by the API at start; the run is short, so it may already have ended.
    assert.ok(['running', 'completed'].includes(sa.get(BatchStatusKey) ?? ''), `BatchStatus ${sa.get(BatchStatusKey)}`);
    assert.equal(sa.get(TenantIdKey), stack.tenantId);
    assert.equal(sa.get(ItemCountKey), 60);
    assert.equal(sa.get(PriorityKey), 'normal');
    assert.equal(sa.get(FailedCountKey), 0);

    const summary = await first.staticSummary();
    assert.equal(summary, `batch ${batchId} · ${stack.tenantId} · 60 items · classify`);
    const details = (await first.staticDetails()) ?? '';
    for (const line of [
      `**Batch** \`${batchId}\``,
      `- **Tenant:** \`${stack.tenantId}\``,
      '- **Items:** 60 in 6 chunks',
      '- **Stages:** classify',
      '- chunk size: 10',
      '- parallel chunks: 1',
      '- priority: normal',
      '- on cancel: keep',
      '- max failure ratio: 1',
      '"corridor": "MX_US"',
    ]) {
      assert.ok(details.includes(line), `details lack ${line}:\n${details}`);
    }

    const ended = await finished(stack, batchId);
    assert.equal(ended.status, 'completed');
    const last = (await describeBatch(batchId)).typedSearchAttributes;
    assert.equal(last.get(BatchStatusKey), 'completed');
    assert.equal(last.get(FailedCountKey), 0);
    assert.equal(last.get(ItemCountKey), 60);

    const acts = scheduled(await history(batchId)).filter((a) => STAGE_TYPES.has(a.type));
    assert.deepEqual(
      acts.map((a) => a.summary),
      Array.from({ length: 6 }, (_, i) => `classify chunk ${i + 1}/6: 10 items`),
    );
  });

  test('paused, running again, and the failed count as it grows, upserted by the workflow', { timeout: WAIT_MS }, async () => {
    const batchId = await submit(stack, { items: items(60), chunk_size: 10, max_parallel_chunks: 1, priority: 'express' });
    await post(`/v1/batches/${batchId}/pause`);
    await eventually(
      'BatchStatus paused',
      async () => (await describeBatch(batchId)).typedSearchAttributes.get(BatchStatusKey) === 'paused',
      WAIT_MS,
    );
    await post(`/v1/batches/${batchId}/resume`);
    const ended = await finished(stack, batchId);
    assert.equal(ended.status, 'partial');
    assert.equal(ended.counts.failed, 2);

    const desc = await describeBatch(batchId);
    assert.equal(desc.typedSearchAttributes.get(BatchStatusKey), 'partial');
    assert.equal(desc.typedSearchAttributes.get(FailedCountKey), ended.counts.failed);
    assert.equal(desc.typedSearchAttributes.get(PriorityKey), 'express');
    assert.equal(await desc.staticSummary(), `batch ${batchId} · ${stack.tenantId} · 60 items · classify→ingest→publish · express`);

    // An operator's query in the UI's list finds it (visibility is eventually consistent).
    const query = `TenantId="${stack.tenantId}" AND BatchStatus="partial" AND FailedCount > 0 AND Priority="express" AND ItemCount > 50 AND CloseTime > "${new Date(Date.now() - 3_600_000).toISOString()}"`;
    await eventually(
      `the list query ${query}`,
      async () => {
        for await (const w of stack.client.workflow.list({ query })) if (w.workflowId === workflowIdFor(batchId)) return true;
        return false;
      },
      WAIT_MS,
    );

    const h = await history(batchId);
    const changes = upserts(h);
    const statuses = changes.flatMap((c) => (typeof c.BatchStatus === 'string' ? [c.BatchStatus] : []));
    assert.deepEqual(statuses, ['paused', 'running', 'partial'], JSON.stringify(changes));
    // sku-3 fails in chunk 1, sku-17 in chunk 2: the count is upserted as each chunk ends, not per item.
    const failed = changes.slice(0, -1).flatMap((c) => (typeof c.FailedCount === 'number' ? [c.FailedCount] : []));
    assert.deepEqual(failed, [1, 2], JSON.stringify(changes));

    const acts = scheduled(h);
    const stage = acts.filter((a) => STAGE_TYPES.has(a.type));
    assert.equal(stage.length, 18);
    for (const a of stage) assert.match(a.summary ?? '', new RegExp(`^${a.type} chunk [1-6]/6: 10 items$`));
    assert.ok(stage.some((a) => a.summary === 'publish chunk 2/6: 10 items'));
    const undo = acts.filter((a) => a.type === 'compensate').map((a) => a.summary);
    assert.deepEqual(undo, ['undo chunk 1/6: 10 items, its failed items', 'undo chunk 2/6: 10 items, its failed items']);
  });

  test('a run that continues as new keeps the search attributes', { timeout: WAIT_MS }, async () => {
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
      retry: SHIPPED.retry,
      historyLimit: 60,
    };
    const handle = await stack.client.workflow.start('batchWorkflow', {
      taskQueue: stack.taskQueue,
      workflowId: workflowIdFor(batchId),
      args: [input],
      typedSearchAttributes: [
        { key: TenantIdKey, value: stack.tenantId },
        { key: ItemCountKey, value: total },
        { key: BatchStatusKey, value: 'running' },
        { key: FailedCountKey, value: 0 },
      ],
      staticSummary: 'the first run only',
    });
    const result = (await handle.result()) as { status: string; counts: { failed: number } };
    const desc = await handle.describe();
    assert.notEqual(desc.runId, handle.firstExecutionRunId, 'the batch continued as new');
    // The server carries the search attributes over to the new run, not the static summary:
    assert.equal(desc.typedSearchAttributes.get(TenantIdKey), stack.tenantId);
    assert.equal(desc.typedSearchAttributes.get(ItemCountKey), total);
    assert.equal(desc.typedSearchAttributes.get(BatchStatusKey), result.status);
    assert.equal(desc.typedSearchAttributes.get(FailedCountKey), result.counts.failed);
    assert.equal(await desc.staticSummary(), undefined);
    // so the later runs' current details repeat it.
    const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    assert.match(meta.currentDetails ?? '', new RegExp(`^batch ${batchId} · ${stack.tenantId} · 24 items · classify→ingest→publish\n`));
    assert.match(meta.currentDetails ?? '', /- run \d+ of this batch \(continued as new\)/);
  });

  test('cancelling, then compensating while a rollback undoes the chunks', { timeout: WAIT_MS }, async () => {
    const slow = await startPublishTarget({ latencyMs: 300 });
    const own = await startStack({ publishUrl: slow.url });
    try {
      const batchId = await submit(own, { items: items(40), chunk_size: 8, max_parallel_chunks: 1 });
      await eventually('a first published item', () => slow.items.size > 0, WAIT_MS);
      const res = await own.api(`/v1/batches/${batchId}/cancel`, { method: 'POST', body: JSON.stringify({ rollback: true }) });
      assert.equal(res.status, 202, await res.text());
      const ended = await finished(own, batchId);
      assert.equal(ended.status, 'cancelled');
      const h = await own.client.workflow.getHandle(workflowIdFor(batchId)).fetchHistory();
      const statuses = upserts(h).flatMap((c) => (typeof c.BatchStatus === 'string' ? [c.BatchStatus] : []));
      assert.deepEqual(statuses, ['cancelling', 'compensating', 'cancelled']);
      const undo = scheduled(h).filter((a) => a.type === 'compensate');
      assert.ok(undo.length > 0);
      for (const a of undo) assert.match(a.summary ?? '', /^undo chunk [1-5]\/5: 8 items, rollback$/);
      const desc = await own.client.workflow.getHandle(workflowIdFor(batchId)).describe();
      assert.equal(desc.typedSearchAttributes.get(BatchStatusKey), 'cancelled');
    } finally {
      await own.stop();
      await slow.close();
    }
  });
});
