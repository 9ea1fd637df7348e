/**
 * What submit does when its workflow start fails, against the real dev server: "already started"
 * is success; an answer that never came keeps the batch (queued, for the reconcile loop) rather
 * than deleting its rows under a workflow that may be running; only a definite refusal deletes
 * them. The errors are the SDK's own, produced by real calls; where an answer is "lost", a client
 * interceptor repeats the real start the way a retry after a lost answer would.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Connection, type WorkflowClientInterceptor } from '@temporalio/client';
import pino from 'pino';
import { createBatches, toSubmission } from '../../src/batches';
import { Unavailable } from '../../src/errors';
import { startOutcome } from '../../src/batches/start-outcome';
import { SubmitBatch } from '../../src/contracts/http';
import { SHIPPED, items, startStack, waitForBatch, type Stack } from '../helpers/stack';

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(() => stack.stop());

/** The error a real call throws. */
async function errorOf(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (err) {
    return err;
  }
  assert.fail('the call succeeded');
}

/** A Batches like the stack's, whose workflow starts go through `client`. */
function serviceWith(client: Client) {
  return createBatches({
    db: stack.db.db,
    client,
    log: pino({ level: 'silent' }),
    taskQueue: stack.taskQueue,
    namespace: stack.namespace,
    uiUrl: SHIPPED.temporal.uiUrl,
    retry: SHIPPED.retry,
  });
}

const withInterceptor = (workflow: WorkflowClientInterceptor, namespace = stack.namespace): Client =>
  new Client({ connection: stack.client.connection, namespace, interceptors: { workflow: [workflow] } });

function submission(n: number) {
  const parsed = toSubmission(SubmitBatch.parse({ items: items(n) }));
  assert.ok(parsed.ok);
  return parsed.value;
}

const rowsOf = async (batchId: string): Promise<number> =>
  (await stack.db.db.selectFrom('batch_items').select('seq').where('batch_id', '=', batchId).execute()).length;

describe('a workflow start that fails', () => {
  test('is sorted by what it means: started, refused, or unknown', async () => {
    const id = `start-outcome-${Date.now()}`;
    const start = (client: Client, workflowId = id) =>
      client.workflow.start('batchWorkflow', {
        workflowId,
        taskQueue: `no-worker-${id}`,
        args: [],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    await start(stack.client);
    try {
      assert.equal(startOutcome(await errorOf(() => start(stack.client))), 'started');
      const dead = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 500 }) });
      assert.equal(startOutcome(await errorOf(() => start(dead, `${id}-dead`))), 'refused', 'no connection: never sent');
      const noNamespace = new Client({ connection: stack.client.connection, namespace: `missing-${id}` });
      assert.equal(startOutcome(await errorOf(() => start(noNamespace, `${id}-ns`))), 'refused', 'NOT_FOUND namespace');
      const late = await errorOf(() => stack.client.withDeadline(Date.now() + 1, () => start(stack.client, `${id}-late`)));
      assert.equal(startOutcome(late), 'unknown', 'a deadline: it may have landed');
    } finally {
      await stack.client.workflow.getHandle(id).terminate('test over');
    }
  });

  test('"already started" (the first answer was lost, the retry says so) is success: 202, and the batch runs', async () => {
    const retried = withInterceptor({
      async startWithDetails(input, next) {
        await next(input);
        return next(input); // WorkflowExecutionAlreadyStartedError, from the server
      },
    });
    const { body } = await serviceWith(retried).submit(stack.tenantId, submission(8), { requestHash: 'already-started' });
    assert.equal(body.status, 'queued');
    assert.equal(await rowsOf(body.batch_id), 8);
    assert.equal((await waitForBatch(stack, body.batch_id)).status, 'completed');
  });

  test('an unanswered start keeps the rows under the workflow it may have started: 202 queued, and the batch runs', async () => {
    // The start lands; its answer does not come back before the deadline.
    const lost = withInterceptor({
      async startWithDetails(input, next) {
        await next(input);
        // A deadline already past: the repeat is never sent, and fails as a timeout does.
        return stack.client.withDeadline(Date.now() - 1_000, () => next(input));
      },
    });
    const { body } = await serviceWith(lost).submit(stack.tenantId, submission(8), { requestHash: 'unanswered' });
    assert.equal(body.status, 'queued');
    assert.equal(await rowsOf(body.batch_id), 8, 'the rows are kept');
    assert.equal((await waitForBatch(stack, body.batch_id)).status, 'completed');
  });

  test('an unanswered start that did not land leaves a queued batch the reconcile loop starts', async () => {
    const never = withInterceptor({
      startWithDetails: (input, next) => stack.client.withDeadline(Date.now() - 1_000, () => next(input)),
    });
    const { body } = await serviceWith(never).submit(stack.tenantId, submission(4), { requestHash: 'never-landed' });
    assert.equal(body.status, 'queued');
    const pass = await stack.batches.reconcile({ queuedOlderThanMs: 0 });
    assert.ok(pass.started >= 1, JSON.stringify(pass));
    assert.equal((await waitForBatch(stack, body.batch_id)).status, 'completed');
  });

  test('a definite refusal deletes the rows: 503, nothing left', async () => {
    const refusing = serviceWith(new Client({ connection: stack.client.connection, namespace: `missing-${Date.now()}` }));
    const before = await stack.db.db.selectFrom('batches').select('id').execute();
    await assert.rejects(refusing.submit(stack.tenantId, submission(3), { requestHash: 'refused' }), (err) => err instanceof Unavailable);
    const after = await stack.db.db.selectFrom('batches').select('id').execute();
    assert.deepEqual(after.map((r) => r.id).sort(), before.map((r) => r.id).sort());
  });
});
