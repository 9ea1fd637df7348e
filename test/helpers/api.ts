/** What the workflow tests share to talk to a stack's API and wait on it. */
import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import type { Counts } from '../../src/contracts/workflow';
import type { Stack } from './stack';

export interface ItemBody {
  ref: string;
  status: string;
  stage: string | null;
  published_id: string | null;
  error: { code: string; message: string; retryable: boolean; attempts: number } | null;
}

export interface BatchBody {
  batch_id: string;
  status: string;
  total_items: number;
  counts: Counts;
  progress_percent: number;
  rolled_back: boolean;
  error: { code: string; message: string } | null;
  workflow_id: string;
  [k: string]: unknown;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * `promise`, or a failure saying `what` if it has not settled after `ms`. The timer is cleared
 * either way: a bare `sleep(ms)` raced against it stays armed and keeps the test file's process
 * alive for the rest of `ms` after its last test, and the run waits for that process.
 */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new assert.AssertionError({ message: what })), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `probe` until it answers something truthy, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** A small seeded PRNG (mulberry32): a target's faults follow the same sequence every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function submit(stack: Stack, body: Record<string, unknown>, key?: string): Promise<string> {
  const res = await stack.api('/v1/batches', { method: 'POST', body: JSON.stringify(body), key });
  const json = (await res.json()) as BatchBody;
  assert.equal(res.status, 202, JSON.stringify(json));
  return json.batch_id;
}

export async function getBatch(stack: Stack, batchId: string, key?: string): Promise<BatchBody> {
  const res = await stack.api(`/v1/batches/${batchId}`, { key });
  assert.equal(res.status, 200);
  return (await res.json()) as BatchBody;
}

/** Every item of the batch, through the cursor. */
export async function allItems(stack: Stack, batchId: string): Promise<ItemBody[]> {
  const out: ItemBody[] = [];
  let cursor: string | null = null;
  do {
    const res = await stack.api(`/v1/batches/${batchId}/items?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(res.status, 200);
    const page = (await res.json()) as { items: ItemBody[]; next_cursor: string | null };
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

/** The execution ended CANCELLED, as a cancel from the Temporal UI or CLI must leave it. */
export async function assertExecutionCancelled(handle: WorkflowHandle): Promise<void> {
  await assert.rejects(handle.result(), (err: Error) => {
    assert.equal(err.name, 'WorkflowFailedError');
    assert.equal((err.cause as Error | undefined)?.name, 'CancelledFailure');
    return true;
  });
  const description = await eventually('the execution to close', async () => {
    const d = await handle.describe();
    return d.status.name !== 'RUNNING' ? d : undefined;
  });
  assert.equal(description.status.name, 'CANCELLED');
}

/**
 * Ends the stack's still-running workflows (a stack without a worker leaves them queued on the
 * suite's server). Listed first, then ended 8 at a time: the bad-input files leave ~450 each, and
 * one after another that took 5-7 s in their after() hook, holding one of the run's slots.
 */
export async function terminateRunning(stack: Stack): Promise<void> {
  const ids: string[] = [];
  for await (const wf of stack.client.workflow.list({ query: `TaskQueue = "${stack.taskQueue}" AND ExecutionStatus = "Running"` })) {
    ids.push(wf.workflowId);
  }
  const next = ids.values();
  const terminator = async (): Promise<void> => {
    for (const id of next) await stack.client.workflow.getHandle(id).terminate('test over');
  };
  await Promise.all(Array.from({ length: 8 }, terminator));
}

/**
 * Ends every active batch of the tenant (cancelled, nothing rolled back) and waits until none is
 * left, so the next test starts with the shipped `max_active_batches` (3) all free. Tests that
 * leave batches paused or running call it between tests rather than raising the limit. Needs the
 * stack's worker (the cancel is carried out by the workflow).
 */
export async function settle(stack: Stack, tenantId = stack.tenantId, timeoutMs = 60_000): Promise<void> {
  const active = () =>
    stack.db.db
      .selectFrom('batches')
      .select(['id', 'status'])
      .where('tenant_id', '=', tenantId)
      .where('status', 'in', ['queued', 'running', 'paused', 'cancelling'])
      .execute();
  for (const b of await active()) {
    if (b.status !== 'cancelling') await stack.batches.cancel(tenantId, b.id, false).catch(() => undefined);
  }
  await eventually('no active batch left', async () => (await active()).length === 0, timeoutMs);
}
