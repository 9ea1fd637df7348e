/** The /v1/batches routes: thin HTTP over the use-case layer (src/batches). */
import Router from '@koa/router';
import type { Context } from 'koa';
import {
  CancelBatch,
  CancelBatches,
  CleanupBatches,
  ConfigureBatch,
  ListBatchesQuery,
  ListItemsQuery,
  SubmitBatch,
} from '../../contracts/http';
import { checkedSubmission, hashRequest, itemLimitOf, type Batches, type Submission } from '../../batches';
import { readJson } from '../body';
import { notFound, validationFailed } from '../../errors';
import { parse } from '../validate';
import { readUpload, submitFormat } from '../upload';
import { keyOf } from '../middleware/auth';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

const tenant = (ctx: Context): string => ctx.state.tenantId as string;

/** A copy of `obj` without its null-valued keys, or `obj` itself when it has none (so it hashes as it always did). */
function dropNulls(obj: unknown): unknown {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return obj;
  const entries = Object.entries(obj);
  return entries.some(([, v]) => v === null) ? Object.fromEntries(entries.filter(([, v]) => v !== null)) : obj;
}

/**
 * A valid submission as its Idempotency-Key hash sees it: an optional field sent as null is the field
 * left out (the contract's null rule), at the top level and in each item, so a replay that spells
 * "no value" the other way still matches. Only valid bodies get here, so every null dropped was an
 * optional field's; nulls inside metadata and attributes are data and stay.
 */
function hashedSubmission(raw: unknown): unknown {
  const body = dropNulls(raw) as Record<string, unknown>;
  if (!Array.isArray(body.items) || !body.items.some((i) => dropNulls(i) !== i)) return body;
  return { ...body, items: body.items.map(dropNulls) };
}

async function readJsonSubmission(ctx: Context, maxBodyBytes: number): Promise<{ submission: Submission; requestHash: string }> {
  const raw = await readJson(ctx, maxBodyBytes);
  const submission = checkedSubmission(parse(SubmitBatch, raw));
  return { submission, requestHash: hashRequest(hashedSubmission(raw)) };
}

export function batchRoutes(batches: Batches, opts: { maxBodyBytes: number }): Router {
  const router = new Router({ prefix: '/v1/batches' });

  router.post('/', async (ctx) => {
    const idempotencyKey = ctx.get('idempotency-key') || undefined;
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw validationFailed([{ path: 'Idempotency-Key', issue: 'must be 1..255 printable ASCII characters' }]);
    }
    // JSON, or a CSV / NDJSON file streamed with its options in the query (src/api/upload).
    const format = submitFormat(ctx);
    const { submission, requestHash } =
      format === 'json'
        ? await readJsonSubmission(ctx, opts.maxBodyBytes)
        : await readUpload(ctx, format, { maxBodyBytes: opts.maxBodyBytes, maxItems: itemLimitOf(keyOf(ctx).limits) });
    const result = await batches.submit(tenant(ctx), submission, { requestHash, idempotencyKey, limits: keyOf(ctx).limits });
    ctx.status = result.replayed ? 200 : 202;
    if (result.replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.body = result.body;
  });

  // Before '/:id…' so that "cancel" is never read as a batch id.
  router.post('/cancel', async (ctx) => {
    const body = parse(CancelBatches, await readJson(ctx, opts.maxBodyBytes));
    const cancelled = await batches.cancelAll(tenant(ctx), body.status, body.rollback);
    ctx.status = 202;
    ctx.body = { cancelled };
  });

  // Also before '/:id…'. Runs retention now for the tenant and waits for it: {"deleted": N}.
  router.post('/cleanup', async (ctx) => {
    const body = parse(CleanupBatches, await readJson(ctx, opts.maxBodyBytes));
    ctx.body = await batches.cleanup(tenant(ctx), body.older_than_days);
  });

  router.get('/', async (ctx) => {
    const query = parse(ListBatchesQuery, ctx.query);
    ctx.body = await batches.list(tenant(ctx), query);
  });

  router.get('/:id', async (ctx) => {
    const body = await batches.get(tenant(ctx), ctx.params.id!);
    if (!body) throw notFound();
    ctx.body = body;
  });

  router.get('/:id/items', async (ctx) => {
    const query = parse(ListItemsQuery, ctx.query);
    const page = await batches.items(tenant(ctx), ctx.params.id!, query);
    if (!page) throw notFound();
    ctx.body = page;
  });

  const cancel = async (ctx: Context, rollback: boolean | undefined): Promise<void> => {
    const body = await batches.cancel(tenant(ctx), ctx.params.id!, rollback);
    if (!body) throw notFound();
    ctx.status = 202;
    ctx.body = body;
  };
  router.post('/:id/cancel', async (ctx) => {
    const body = parse(CancelBatch, await readJson(ctx, opts.maxBodyBytes));
    await cancel(ctx, body.rollback);
  });
  router.delete('/:id', async (ctx) => cancel(ctx, undefined));

  for (const [action, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    router.post(`/:id/${action}`, async (ctx) => {
      const body = await batches.setPaused(tenant(ctx), ctx.params.id!, paused);
      if (!body) throw notFound();
      ctx.status = 202;
      ctx.body = body;
    });
  }

  router.patch('/:id', async (ctx) => {
    const patch = parse(ConfigureBatch, await readJson(ctx, opts.maxBodyBytes));
    const body = await batches.configure(tenant(ctx), ctx.params.id!, patch);
    if (!body) throw notFound();
    ctx.status = 202;
    ctx.body = body;
  });

  router.post('/:id/retry-failed', async (ctx) => {
    const body = await batches.retryFailed(tenant(ctx), ctx.params.id!);
    if (!body) throw notFound();
    ctx.status = 202;
    ctx.body = body;
  });

  return router;
}
