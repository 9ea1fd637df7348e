/**
 * Idempotency-Key (docs/api.md "Submit a batch"): one request, however often and however
 * concurrently it is sent, makes one batch and one workflow; another body under the same key is
 * refused; a replay is never refused for the active-batch limit.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { hashRequest, toSubmission } from '../../src/batches';
import { SubmitBatch } from '../../src/contracts/http';
import { eventually, sleep, terminateRunning } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { items, startStack, type Stack } from '../helpers/stack';

// No worker: batches stay queued, so a batch accepted here holds its active slot throughout.
let stack: Stack;
before(async () => {
  stack = await startStack({ noWorker: true });
});
after(async () => {
  await terminateRunning(stack);
  await stack.stop();
});

const post = (body: unknown, key: string, idempotencyKey?: string) =>
  stack.api('/v1/batches', {
    method: 'POST',
    body: JSON.stringify(body),
    key,
    headers: idempotencyKey ? { 'idempotency-key': idempotencyKey } : {},
  });

async function count(query: string, tenantId: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`${sql.raw(query)} where b.tenant_id = ${tenantId}`.execute(stack.db.db);
  return rows[0]!.n;
}
const batchRows = (tenantId: string) => count('select count(*)::int as n from batches b', tenantId);
const itemRows = (tenantId: string) => count('select count(*)::int as n from batch_items i join batches b on b.id = i.batch_id', tenantId);

/** The tenant's workflows in Temporal's visibility, once it has caught up with `atLeast`, and a moment more. */
async function workflowsOf(tenantId: string, atLeast: number): Promise<number> {
  await eventually(
    `${atLeast} workflow(s) of ${tenantId} in visibility`,
    async () => (await stack.client.workflow.count(`TenantId = "${tenantId}"`)).count >= atLeast,
    30_000,
  );
  await sleep(1_000);
  return (await stack.client.workflow.count(`TenantId = "${tenantId}"`)).count;
}

describe('Idempotency-Key', () => {
  test('20 parallel identical requests: one batch row, one workflow, one 202 and nineteen 200 replays of the same batch', async () => {
    const { tenantId, key } = await stack.addTenant();
    const body = { items: items(7), chunk_size: 3, metadata: { order: 'po-20' } };
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(body, key, 'parallel-20')));
    const bodies = await Promise.all(
      answers.map(async (r) => (await r.json()) as { batch_id: string; total_items: number; workflow_id: string }),
    );

    const statuses = answers.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
    for (const r of answers) assert.equal(r.headers.get('idempotent-replayed'), r.status === 200 ? 'true' : null);
    const ids = new Set(bodies.map((b) => b.batch_id));
    assert.equal(ids.size, 1, `batch ids: ${[...ids].join(', ')}`);
    const [batchId] = [...ids];
    for (const b of bodies) {
      assert.equal(b.total_items, 7);
      assert.equal(b.workflow_id, `batch-${batchId}`);
    }

    assert.equal(await batchRows(tenantId), 1);
    assert.equal(await itemRows(tenantId), 7);
    assert.equal(await workflowsOf(tenantId, 1), 1);
    const described = await stack.client.workflow.getHandle(`batch-${batchId}`).describe();
    assert.equal(described.status.name, 'RUNNING');
  });

  test('the same key with a different body is 422 and changes nothing; the original still replays', async () => {
    const { tenantId, key } = await stack.addTenant();
    const first = await post({ items: items(2) }, key, 'order-1');
    assert.equal(first.status, 202);
    const { batch_id } = (await first.json()) as { batch_id: string };

    for (const other of [{ items: items(3) }, { items: items(2), chunk_size: 1 }, { items: items(2), priority: 'express' }]) {
      await expectError(await post(other, key, 'order-1'), 422, 'idempotency_key_reused');
    }
    assert.equal(await batchRows(tenantId), 1);
    assert.equal(await itemRows(tenantId), 2);

    const replay = await post({ items: items(2) }, key, 'order-1');
    assert.equal(replay.status, 200);
    assert.equal(((await replay.json()) as { batch_id: string }).batch_id, batch_id);
    assert.equal(await workflowsOf(tenantId, 1), 1);
  });

  test('a replay is answered even when the key is at its active-batch limit', async () => {
    const { tenantId, key } = await stack.addTenant({ max_active_batches: 1 });
    const first = await post({ items: items(1) }, key, 'at-limit');
    assert.equal(first.status, 202);
    const { batch_id } = (await first.json()) as { batch_id: string };

    await expectError(await post({ items: items(1) }, key), 429, 'too_many_active_batches');
    const replays = await Promise.all(Array.from({ length: 5 }, () => post({ items: items(1) }, key, 'at-limit')));
    for (const r of replays) {
      assert.equal(r.status, 200);
      assert.equal(((await r.json()) as { batch_id: string }).batch_id, batch_id);
    }
    // Another body under the key is still the 422, not the 429: the key decides first.
    await expectError(await post({ items: items(2) }, key, 'at-limit'), 422, 'idempotency_key_reused');
    assert.equal(await batchRows(tenantId), 1);
  });

  test('keys are per tenant: two tenants may use the same Idempotency-Key for two batches', async () => {
    const a = await stack.addTenant();
    const b = await stack.addTenant();
    const ra = await post({ items: items(1) }, a.key, 'shared-key');
    const rb = await post({ items: items(1) }, b.key, 'shared-key');
    assert.deepEqual([ra.status, rb.status], [202, 202]);
    const [ida, idb] = (await Promise.all([ra.json(), rb.json()])) as Array<{ batch_id: string }>;
    assert.notEqual(ida!.batch_id, idb!.batch_id);
  });

  test('without per-key limits (internal callers) the unique constraint alone makes 20 racing submits one batch', async () => {
    const { tenantId } = await stack.addTenant();
    const raw = { items: items(4) };
    const parsed = toSubmission(SubmitBatch.parse(raw));
    assert.ok(parsed.ok);
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        stack.batches.submit(tenantId, parsed.value, { requestHash: hashRequest(raw), idempotencyKey: 'internal-20' }),
      ),
    );
    assert.equal(new Set(results.map((r) => r.body.batch_id)).size, 1);
    assert.equal(results.filter((r) => !r.replayed).length, 1);
    assert.equal(await batchRows(tenantId), 1);
    assert.equal(await workflowsOf(tenantId, 1), 1);
  });
});
