/**
 * The reconcile loop (src/batches/reconcile.ts) against the real dev server: it walks every active
 * batch oldest first, a bounded slice a pass, so a backlog cannot hide one; and a batch whose
 * workflow was terminated outside batchflow ends `failed` (error `terminated`) with its slot free.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowNotFoundError } from '@temporalio/client';
import { emptyCounts, workflowIdFor } from '../../src/contracts/workflow';
import { insertBatch } from '../../src/db/batches';
import { listItems } from '../../src/db/item-pages';
import { newBatchId } from '../../src/batches/ids';
import { toSubmission } from '../../src/batches';
import { SubmitBatch } from '../../src/contracts/http';
import { items, startStack, type Stack } from '../helpers/stack';
import { eventually, submit, type BatchBody } from '../helpers/api';

let stack: Stack;
/** The tenant of the rows written straight to the database: they do not take the API tenant's slots. */
let other: string;
// No worker: a started workflow stays RUNNING and its batch `queued`, as under a worker backlog.
before(async () => {
  stack = await startStack({ noWorker: true });
  other = (await stack.addTenant()).tenantId;
});
after(async () => {
  // The workflows this file started would wait on a task queue no worker serves.
  const open = await stack.db.db.selectFrom('batches').select('workflow_id').execute();
  await Promise.all(
    open.map((b) =>
      stack.client.workflow
        .getHandle(b.workflow_id)
        .terminate('test over')
        .catch(() => {}),
    ),
  );
  await stack.stop();
});

/** A batch row as submit writes it, created at `createdAt`, whose workflow was never started. */
async function insertQueued(createdAt: Date, status: 'queued' | 'running' = 'queued'): Promise<string> {
  const parsed = toSubmission(SubmitBatch.parse({ items: items(2) }));
  assert.ok(parsed.ok);
  const id = newBatchId();
  const { options, items: rows } = parsed.value;
  await insertBatch(
    stack.db.db,
    {
      id,
      tenant_id: other,
      status,
      priority: options.priority,
      options: JSON.stringify(options),
      metadata: '{}',
      callback_url: null,
      total_items: rows.length,
      counts: JSON.stringify(emptyCounts(rows.length)),
      error: null,
      idempotency_key: null,
      request_hash: null,
      workflow_id: workflowIdFor(id),
      created_at: createdAt,
    },
    rows,
  );
  return id;
}

async function runStatus(batchId: string): Promise<string> {
  try {
    return (await stack.client.workflow.getHandle(workflowIdFor(batchId)).describe()).status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'NOT_FOUND';
    throw err;
  }
}

const statusOf = async (batchId: string): Promise<string> =>
  (await stack.db.db.selectFrom('batches').select('status').where('id', '=', batchId).executeTakeFirstOrThrow()).status;

async function activeCount(): Promise<number> {
  const rows = await stack.db.db
    .selectFrom('batches')
    .select('id')
    .where('tenant_id', '=', stack.tenantId)
    .where('status', 'in', ['queued', 'running', 'paused', 'cancelling'])
    .execute();
  return rows.length;
}

describe('the reconcile loop', () => {
  test('walks the active batches oldest first, a bounded slice a pass, and reaches the last of a backlog', async () => {
    const hourAgo = Date.now() - 3_600_000;
    // Seven batches whose workflow never started, an hour old, a second apart; one just submitted.
    const old: string[] = [];
    for (let i = 6; i >= 0; i--) old.unshift(await insertQueued(new Date(hourAgo + i * 1_000)));
    const young = await insertQueued(new Date());

    // Three checks a pass: the old implementation's "any 100" at a smaller scale.
    const passes = [];
    for (let p = 0; p < 4; p++) passes.push(await stack.batches.reconcile({ maxChecks: 3 }));
    assert.deepEqual(passes.slice(0, 3), [
      { checked: 3, started: 3, failed: 0 },
      { checked: 3, started: 3, failed: 0 },
      // The last old one, then the young one: left alone, its submit may be under way.
      { checked: 2, started: 1, failed: 0 },
    ]);
    // Back at the oldest, whose workflows now run: nothing is started twice.
    assert.deepEqual(passes[3], { checked: 3, started: 0, failed: 0 });
    for (const id of old) assert.equal(await runStatus(id), 'RUNNING', id);
    assert.equal(await runStatus(young), 'NOT_FOUND');

    // The rest of the list, from where the last pass stopped; past the grace period the young one starts too.
    assert.deepEqual(await stack.batches.reconcile({ queuedOlderThanMs: 0 }), { checked: 5, started: 1, failed: 0 });
    assert.equal(await runStatus(young), 'RUNNING');
  });

  test('a queued and a running batch terminated in Temporal end failed (error terminated), free their slots, and are not started again', async () => {
    const queued = await submit(stack, { items: items(5) });
    // A row the workflow had marked running (no worker here to do it).
    const running = await insertQueued(new Date(Date.now() - 60_000), 'running');
    await stack.batches.reconcile({ queuedOlderThanMs: 0 });
    assert.equal(await runStatus(running), 'NOT_FOUND', 'a running row whose workflow is gone is failed, never started');
    assert.equal(await statusOf(running), 'failed');

    const before = await activeCount();
    const handle = stack.client.workflow.getHandle(workflowIdFor(queued));
    const { runId } = await handle.describe();
    await handle.terminate('an operator in the Temporal UI');
    const pass = await stack.batches.reconcile();
    assert.equal(pass.failed, 1);
    assert.equal(await activeCount(), before - 1, 'its active slot is free');

    const body = (await (await stack.api(`/v1/batches/${queued}`)).json()) as BatchBody;
    assert.equal(body.status, 'failed');
    assert.equal(body.error?.code, 'terminated');
    assert.match(body.error!.message, /TERMINATED/);
    assert.equal(body.counts.failed, 5);
    assert.equal(body.counts.pending, 0);
    const page = await listItems(stack.db.db, queued, { limit: 10 });
    assert.deepEqual(
      page.items.map((i) => [i.status, i.error?.code, i.error?.retryable]),
      Array.from({ length: 5 }, () => ['failed', 'terminated', true]),
    );

    // Later passes leave it be: the same terminated run, no new one.
    await stack.batches.reconcile({ queuedOlderThanMs: 0 });
    const now = await handle.describe();
    assert.equal(now.status.name, 'TERMINATED');
    assert.equal(now.runId, runId);
    assert.equal(await statusOf(queued), 'failed');
  });

  test('a batch past queued is ended only once its closed run has had time to record its last writes', async () => {
    const id = await submit(stack, { items: items(3) });
    // As the workflow's first activity would (no worker here).
    await stack.db.db.updateTable('batches').set({ status: 'running' }).where('id', '=', id).execute();
    await stack.client.workflow.getHandle(workflowIdFor(id)).terminate('an operator in the Temporal UI');
    // The shipped policies' 30 s heartbeat timeout, plus a margin: too soon.
    assert.equal((await stack.batches.reconcile()).failed, 0);
    assert.equal(await statusOf(id), 'running');
    const cancel = await stack.api(`/v1/batches/${id}/cancel`, { method: 'POST', body: '{}' });
    assert.equal(cancel.status, 409);
    assert.match(((await cancel.json()) as { error: { message: string } }).error.message, /moments ago/);
    assert.equal((await stack.batches.reconcile({ closedGraceMs: 0 })).failed, 1);
    assert.equal(await statusOf(id), 'failed');
  });

  test('cancel on a batch whose workflow was terminated reconciles it at once: 409 naming why, not 409 forever', async () => {
    const id = await submit(stack, { items: items(3) });
    await stack.client.workflow.getHandle(workflowIdFor(id)).terminate('an operator in the Temporal CLI');
    const res = await stack.api(`/v1/batches/${id}/cancel`, { method: 'POST', body: '{}' });
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(res.status, 409, JSON.stringify(body));
    assert.match(body.error.message, /terminated/);
    // No loop pass ran: the cancel itself ended the batch.
    const after = (await (await stack.api(`/v1/batches/${id}`)).json()) as BatchBody;
    assert.equal(after.status, 'failed');
    assert.equal(after.error?.code, 'terminated');
    const again = await stack.api(`/v1/batches/${id}/cancel`, { method: 'POST', body: '{}' });
    assert.equal(again.status, 409);
    assert.match(((await again.json()) as { error: { message: string } }).error.message, /already failed/);
  });

  test('retry-failed on a terminated batch redrives it as a new run of the same workflow id', async () => {
    const id = await submit(stack, { items: items(2) });
    const handle = stack.client.workflow.getHandle(workflowIdFor(id));
    const first = (await handle.describe()).runId;
    await handle.terminate('an operator in the Temporal UI');
    const res = await stack.api(`/v1/batches/${id}/retry-failed`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 202, await res.clone().text());
    const redrive = await eventually(
      'the redrive run',
      async () => {
        const d = await handle.describe();
        return d.runId !== first && d.status.name === 'RUNNING' ? d : undefined;
      },
      30_000,
    );
    assert.notEqual(redrive.runId, first);
    assert.equal(await statusOf(id), 'running');
  });
});
