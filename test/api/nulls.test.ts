/**
 * The contract's null rule (docs/api.md, "Conventions"): on every /v1 route with a JSON body, an
 * optional field sent as `null` answers exactly as the same request without it (status, body, and
 * the batch options it results in); the OpenAPI document marks every such field nullable.
 *
 * The optional fields are read from the validating schemas themselves, so a field added later is
 * sent as null here too (and fails here if it is not built with `optionalNullable`).
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { z } from 'zod';
import { CancelBatch, CancelBatches, CleanupBatches, ConfigureBatch, Item, ResolveReview, SubmitBatch } from '../../src/contracts/http';
import { settle } from '../helpers/api';
import { startStack, waitForBatch, type Stack } from '../helpers/stack';

let stack: Stack;
before(async () => {
  stack = await startStack();
});
// Tests leave batches paused or running: each ends them, so the next has the shipped 3 active batches free.
afterEach(() => settle(stack));
after(() => stack.stop());

/** `{field: null}` for every optional (or defaulted) field of an object schema. */
function nullsFor(schema: z.ZodObject): Record<string, null> {
  return Object.fromEntries(
    Object.entries(schema.shape)
      .filter(([, field]) => (field as z.ZodType)._zod.optin !== undefined)
      .map(([name]) => [name, null]),
  );
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}
async function send(method: string, path: string, body: unknown, key = stack.key, contentType = 'application/json'): Promise<Answer> {
  const res = await stack.api(path, {
    method,
    key,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': contentType },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The request_id differs from answer to answer; the rest of an error must not. */
const withoutRequestId = (a: Answer): Answer => {
  const error = a.body.error as Record<string, unknown> | undefined;
  return error ? { status: a.status, body: { error: { ...error, request_id: undefined } } } : a;
};

/** What a submission turned into: the batch row's options and the items as stored. */
async function stored(batchId: string): Promise<unknown> {
  // Not its status: a worker runs the batches, one may already be further along than the other.
  const batch = await stack.db.db
    .selectFrom('batches')
    .select(['priority', 'options', 'metadata', 'callback_url', 'total_items'])
    .where('id', '=', batchId)
    .executeTakeFirstOrThrow();
  const items = await stack.db.db
    .selectFrom('batch_items')
    .select(['seq', 'ref', 'text', 'content_b64', 'content_type', 'attributes'])
    .where('batch_id', '=', batchId)
    .orderBy('seq')
    .execute();
  return { batch, items };
}

/** A batch that stays open (paused, one item at a time), so that control actions have something to act on. */
async function pausedBatch(key = stack.key, extra: Record<string, unknown> = {}): Promise<string> {
  const submitted = await send(
    'POST',
    '/v1/batches',
    {
      items_text: Array.from({ length: 200 }, (_, i) => `part-${i}`).join(','),
      stages: ['classify'],
      chunk_size: 1,
      max_parallel_chunks: 1,
      ...extra,
    },
    key,
  );
  assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
  const id = submitted.body.batch_id as string;
  assert.equal((await send('POST', `/v1/batches/${id}/pause`, {}, key)).status, 202);
  return id;
}

describe('every optional field sent as null answers as the field left out', () => {
  test('the schemas have the optional fields this file expects (a new one is covered without editing it)', () => {
    assert.deepEqual(Object.keys(nullsFor(SubmitBatch)).sort(), [
      'callback_url',
      'chunk_size',
      'items',
      'items_text',
      'max_failure_ratio',
      'max_parallel_chunks',
      'metadata',
      'on_cancel',
      'priority',
      'stages',
    ]);
    assert.deepEqual(Object.keys(nullsFor(Item)).sort(), ['attributes', 'content', 'content_type', 'text']);
    assert.deepEqual(Object.keys(nullsFor(ConfigureBatch)).sort(), ['max_failure_ratio', 'max_parallel_chunks']);
    assert.deepEqual(Object.keys(nullsFor(CancelBatch)), ['rollback']);
    assert.deepEqual(Object.keys(nullsFor(CancelBatches)), ['rollback']);
    // No optional field: nothing for a client to send as null.
    assert.deepEqual(nullsFor(CleanupBatches), {});
    assert.deepEqual(nullsFor(ResolveReview), {});
  });

  test('POST /v1/batches (JSON): items and items_text forms, same answer and the same batch', async () => {
    const items = [
      { ref: 'sku-1', text: 'cotton t-shirt crew neck' },
      { ref: 'sku-2', content: Buffer.from('leather oxford shoes').toString('base64'), content_type: 'text/plain' },
      { ref: 'sku-3', text: 'wooden dining chair', attributes: { origin_country: 'CN', note: null } },
    ];
    const forms: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
      ['items', { items }, { ...nullsFor(SubmitBatch), items: items.map((i) => ({ ...nullsFor(Item), ...i })) }],
      ['items_text', { items_text: 'a-1,b-2;c-3' }, { ...nullsFor(SubmitBatch), items_text: 'a-1,b-2;c-3' }],
    ];
    for (const [form, bare, nulled] of forms) {
      const plain = await send('POST', '/v1/batches', bare);
      const withNulls = await send('POST', '/v1/batches', nulled);
      assert.equal(withNulls.status, plain.status, `${form}: ${JSON.stringify(withNulls.body)}`);
      assert.equal(plain.status, 202);
      for (const field of ['status', 'total_items', 'estimated_seconds'] as const)
        assert.deepEqual(withNulls.body[field], plain.body[field], `${form}: ${field}`);
      assert.deepEqual(
        await stored(withNulls.body.batch_id as string),
        await stored(plain.body.batch_id as string),
        `${form}: the same options and items`,
      );
      await settle(stack);
    }
  });

  test('POST /v1/batches with an Idempotency-Key: null or left out is the same body (a replay, not a 422)', async () => {
    const headers = { 'content-type': 'application/json', 'idempotency-key': `nulls-${Date.now()}` };
    const first = await stack.api('/v1/batches', {
      method: 'POST',
      headers,
      body: JSON.stringify({ items: [{ ref: 'a', text: 'leather oxford shoes' }], chunk_size: 5 }),
    });
    assert.equal(first.status, 202);
    const again = await stack.api('/v1/batches', {
      method: 'POST',
      headers,
      body: JSON.stringify({ items: [{ ref: 'a', text: 'leather oxford shoes', attributes: null }], chunk_size: 5, callback_url: null }),
    });
    assert.equal(again.status, 200, await again.clone().text());
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(((await again.json()) as { batch_id: string }).batch_id, ((await first.json()) as { batch_id: string }).batch_id);
  });

  test('POST /v1/batches (NDJSON): an item with its optional fields null', async () => {
    const lines = [
      { ref: 'n-1', text: 'laptop computer' },
      { ref: 'n-2', content: Buffer.from('x').toString('base64'), content_type: 'text/plain' },
    ];
    const ndjson = (withNulls: boolean): string => lines.map((l) => JSON.stringify(withNulls ? { ...nullsFor(Item), ...l } : l)).join('\n');
    const plain = await send('POST', '/v1/batches?stages=classify', ndjson(false), stack.key, 'application/x-ndjson');
    const withNulls = await send('POST', '/v1/batches?stages=classify', ndjson(true), stack.key, 'application/x-ndjson');
    assert.equal(plain.status, 202, JSON.stringify(plain.body));
    assert.equal(withNulls.status, 202, JSON.stringify(withNulls.body));
    assert.deepEqual(await stored(withNulls.body.batch_id as string), await stored(plain.body.batch_id as string));
  });

  test('PATCH /v1/batches/{id}: each field with the other null; both null is the same 400 as {}', async () => {
    const id = await pausedBatch();
    const values: Record<string, unknown> = { max_parallel_chunks: 2, max_failure_ratio: 0.75 };
    for (const field of Object.keys(nullsFor(ConfigureBatch))) {
      const plain = await send('PATCH', `/v1/batches/${id}`, { [field]: values[field] });
      const withNulls = await send('PATCH', `/v1/batches/${id}`, { ...nullsFor(ConfigureBatch), [field]: values[field] });
      assert.equal(plain.status, 202, JSON.stringify(plain.body));
      assert.equal(withNulls.status, 202, JSON.stringify(withNulls.body));
      assert.deepEqual(
        [withNulls.body.max_parallel_chunks, withNulls.body.max_failure_ratio],
        [plain.body.max_parallel_chunks, plain.body.max_failure_ratio],
        field,
      );
    }
    const after = await send('PATCH', `/v1/batches/${id}`, { max_parallel_chunks: 3 });
    assert.deepEqual([after.body.max_parallel_chunks, after.body.max_failure_ratio], [3, 0.75], 'a null never reset the other field');
    const empty = await send('PATCH', `/v1/batches/${id}`, {});
    assert.equal(empty.status, 400);
    assert.deepEqual(withoutRequestId(await send('PATCH', `/v1/batches/${id}`, nullsFor(ConfigureBatch))), withoutRequestId(empty));
    await send('POST', `/v1/batches/${id}/cancel`, {});
  });

  test("POST /v1/batches/{id}/cancel: rollback null takes the batch's on_cancel, as left out does", async () => {
    const [plainId, nullId] = [
      await pausedBatch(stack.key, { on_cancel: 'rollback' }),
      await pausedBatch(stack.key, { on_cancel: 'rollback' }),
    ];
    const plain = await send('POST', `/v1/batches/${plainId}/cancel`, {});
    const withNulls = await send('POST', `/v1/batches/${nullId}/cancel`, nullsFor(CancelBatch));
    assert.equal(plain.status, 202);
    assert.equal(withNulls.status, 202, JSON.stringify(withNulls.body));
    assert.equal(withNulls.body.status, plain.body.status);
    const [a, b] = await Promise.all([waitForBatch(stack, plainId), waitForBatch(stack, nullId)]);
    assert.deepEqual([b.status, b.rolled_back], [a.status, a.rolled_back]);
    assert.equal(a.status, 'cancelled');
  });

  test("POST /v1/batches/cancel: rollback null, as left out, cancels the state's batches", async () => {
    const [one, two] = [await stack.addTenant(), await stack.addTenant()];
    const [oneId, twoId] = [await pausedBatch(one.key), await pausedBatch(two.key)];
    const plain = await send('POST', '/v1/batches/cancel', { status: 'paused' }, one.key);
    const withNulls = await send('POST', '/v1/batches/cancel', { ...nullsFor(CancelBatches), status: 'paused' }, two.key);
    assert.deepEqual(plain, { status: 202, body: { cancelled: [oneId] } });
    assert.deepEqual(withNulls, { status: 202, body: { cancelled: [twoId] } });
    await Promise.all([
      waitForBatch(stack, oneId, undefined, undefined, one.key),
      waitForBatch(stack, twoId, undefined, undefined, two.key),
    ]);
  });

  test('POST /v1/batches/cleanup: with its (no) optional fields null', async () => {
    const tenant = await stack.addTenant();
    const plain = await send('POST', '/v1/batches/cleanup', { older_than_days: 36_500 }, tenant.key);
    const withNulls = await send('POST', '/v1/batches/cleanup', { ...nullsFor(CleanupBatches), older_than_days: 36_500 }, tenant.key);
    assert.deepEqual(withNulls, plain);
    assert.equal(plain.status, 200);
  });
});

type JsonSchema = {
  type?: string | string[];
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
};
const acceptsNull = (s: JsonSchema): boolean =>
  (Array.isArray(s.type) ? s.type.includes('null') : s.type === 'null' || (s.anyOf ?? []).some(acceptsNull)) &&
  (s.enum === undefined || s.enum.includes(null));

test('GET /openapi.json marks every optional field of every /v1 JSON body nullable, and no required one', async () => {
  const doc = (await (await fetch(`${stack.baseUrl}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema: JsonSchema }> } }>>;
  };
  const checked: string[] = [];
  const problems: string[] = [];
  const walk = (s: JsonSchema, at: string): void => {
    for (const [name, prop] of Object.entries(s.properties ?? {})) {
      const required = (s.required ?? []).includes(name);
      checked.push(`${at}.${name}`);
      if (required === acceptsNull(prop))
        problems.push(`${at}.${name} is ${required ? 'required but' : 'optional but not'} nullable: ${JSON.stringify(prop)}`);
      walk(prop, `${at}.${name}`);
    }
    for (const option of s.anyOf ?? []) walk(option, at);
    if (s.items) walk(s.items, `${at}[]`);
  };
  for (const [path, operations] of Object.entries(doc.paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const [method, op] of Object.entries(operations)) {
      const schema = op.requestBody?.content?.['application/json']?.schema;
      if (schema) walk(schema, `${method.toUpperCase()} ${path}`);
    }
  }
  assert.deepEqual(problems, []);
  for (const field of [
    'POST /v1/batches.callback_url',
    'POST /v1/batches.items[].attributes',
    'PATCH /v1/batches/{id}.max_failure_ratio',
    'POST /v1/batches/cancel.rollback',
    'POST /v1/batches/{id}/cancel.rollback',
  ]) {
    assert.ok(checked.includes(field), `${field} was checked (${checked.length} fields)`);
  }
});
