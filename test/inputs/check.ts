/**
 * What every bad-input case checks, whatever it sent: never a 5xx; every 4xx in the contract's
 * error shape with a contract code and X-Request-Id equal to its request_id; 2xx bodies parsed with
 * the response schemas. And, after a run, that the database and Temporal hold no half-created batch.
 */
import assert from 'node:assert/strict';
import { z } from 'zod';
import { ErrorBody, Submitted } from '../../src/contracts/responses';
import * as compat from '../../src/contracts/compat';
import type { Stack } from '../helpers/stack';

/** docs/api.md "Errors", plus 404 for an unknown route (the same not_found code). */
export const CONTRACT_CODES = new Set([
  'validation_failed',
  'malformed_json',
  'unauthorized',
  'not_found',
  'conflict',
  'payload_too_large',
  'unsupported_media_type',
  'idempotency_key_reused',
  'rate_limited',
  'too_many_active_batches',
]);

/** The schema a 2xx of this request must parse with, by method and path. */
function successSchema(method: string, path: string): z.ZodType | undefined {
  const p = path.split('?')[0]!;
  if (method === 'POST' && p === '/v1/batches') return Submitted;
  if (method === 'POST' && p === '/api/v1/classify/bulk') return compat.ClassifyJobAccepted;
  if (method === 'POST' && /^\/api\/bulk-(search|publish)$/.test(p)) return compat.BulkOperationResponse;
  if (method === 'POST' && /^(\/api\/v1)?\/batch\/jobs$/.test(p)) return compat.BatchJob;
  if (method === 'GET' && p === '/api/batches') return compat.BatchListResponse;
  return undefined;
}

export interface Answer {
  status: number;
  body: unknown;
  text: string;
}

/** Counts what the suite saw, for the final report. */
export const seen = { requests: 0, fiveXx: 0, accepted: 0 };

/**
 * Checks one answer against the invariants and returns it; `what` names the case in a failure.
 * Throws (so fast-check shrinks the input) on any violation.
 */
export async function checkAnswer(res: Response, method: string, path: string, what: string): Promise<Answer> {
  const text = await res.text();
  seen.requests++;
  const say = (m: string): string => `${what}: ${method} ${path} → ${res.status}: ${m}\n${text.slice(0, 500)}`;
  if (res.status >= 500) seen.fiveXx++;
  assert.ok(res.status < 500, say('a 5xx'));
  let body: unknown;
  if (res.status >= 400) {
    body = JSON.parse(text);
    const parsed = ErrorBody.safeParse(body);
    assert.ok(parsed.success, say('not the contract error shape'));
    const err = parsed.data.error;
    assert.ok(CONTRACT_CODES.has(err.code), say(`code ${err.code} is not a contract code`));
    assert.ok(err.message.length > 0, say('empty message'));
    assert.equal(res.headers.get('x-request-id'), err.request_id, say('X-Request-Id differs from request_id'));
  } else if (res.status >= 200 && res.status < 300) {
    body = text === '' ? undefined : JSON.parse(text);
    const schema = successSchema(method, path);
    if (schema) {
      const parsed = schema.safeParse(body);
      assert.ok(parsed.success, say(`the 2xx does not parse: ${parsed.success ? '' : parsed.error.message}`));
    }
    if (method === 'POST') seen.accepted++;
  }
  return { status: res.status, body, text };
}

export const errorCode = (a: Answer): string | undefined => (a.body as { error?: { code?: string } } | undefined)?.error?.code;

/** Workflows already described once: a batch row's workflow does not go away in this suite. */
const described = new Set<string>();

/**
 * The stack holds no half-created batch: every batch row has its workflow, every workflow on the
 * stack's task queue has its batch row, and no item row lacks its batch. Returns the batch count.
 */
export async function checkNoHalfCreated(stack: Stack): Promise<{ batches: number; halfCreated: number }> {
  const db = stack.db.db;
  const rows = await db.selectFrom('batches').select(['id', 'workflow_id']).execute();
  let halfCreated = 0;
  for (const row of rows) {
    if (described.has(row.workflow_id)) continue;
    try {
      await stack.client.workflow.getHandle(row.workflow_id).describe();
      described.add(row.workflow_id);
    } catch (err) {
      halfCreated++;
      assert.fail(`batch ${row.id} has no workflow ${row.workflow_id}: ${(err as Error).message}`);
    }
  }
  const byWorkflow = new Set(rows.map((r) => r.workflow_id));
  for await (const wf of stack.client.workflow.list({ query: `TaskQueue = "${stack.taskQueue}"` })) {
    if (!byWorkflow.has(wf.workflowId)) {
      halfCreated++;
      assert.fail(`workflow ${wf.workflowId} on ${stack.taskQueue} has no batch row`);
    }
  }
  const itemOrphans = await db
    .selectFrom('batch_items as i')
    .leftJoin('batches as b', 'b.id', 'i.batch_id')
    .where('b.id', 'is', null)
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  assert.equal(Number(itemOrphans.n), 0, 'batch_items rows without a batch row');
  const resultOrphans = await db
    .selectFrom('item_results as i')
    .leftJoin('batches as b', 'b.id', 'i.batch_id')
    .where('b.id', 'is', null)
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  assert.equal(Number(resultOrphans.n), 0, 'item_results rows without a batch row');
  return { batches: rows.length, halfCreated };
}
