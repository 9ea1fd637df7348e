/**
 * The part-number design (shared/seeds/003, "API Endpoint Changes"): `POST /api/bulk-search`
 * (classify each part number) and `POST /api/bulk-publish` (publish each), and
 * `/api/batches` to follow and cancel them, in the design's models and status codes.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { BulkParts, ListBatchesOffsetQuery, MAX_PART_NUMBER_CHARS, MAX_PARTS } from '../../../contracts/compat';
import type { Batches } from '../../../batches';
import type { BatchBody } from '../../../batches/view';
import { isTerminal, type Stage } from '../../../contracts/workflow';
import { refsFromText } from '../../../contracts/http';
import { readJson } from '../../body';
import { BatchflowError, validationFailed, type ErrorDetail } from '../../../errors';
import { parse } from '../../validate';
import { batchStatusesOf, partsStatus, toBulkAccepted, toPartsBatch } from './shapes';
import { idempotencyKeyOf, renamer, submitCompat } from './submit';

/** Failed items listed in `failed_items`; the rest are in GET /v1/batches/{id}/items?status=failed. */
export const MAX_FAILED_ITEMS = 1_000;

type Operation = 'search' | 'publish';
/**
 * A search looks each part number up (classifies it); a publish sends each to the publish target,
 * as the design's publish_batch does with what it finds, without classifying it again.
 */
const OPERATIONS: Record<Operation, Stage[]> = {
  search: ['classify'],
  publish: ['publish'],
};

const tenant = (ctx: Context): string => ctx.state.tenantId as string;
const batchNotFound = (): BatchflowError => new BatchflowError(404, 'not_found', 'Batch not found');

/** The design's separators of `part_numbers_text`: newlines, commas and semicolons (not tabs). */
const PART_NUMBER = /[^,;\n\r]+/g;

/** The part numbers of a request, as the design's BulkSearchRequest and BulkPublishRequest read them. */
function partNumbersOf(body: BulkParts, operation: Operation): string[] {
  const max = MAX_PARTS[operation];
  const list = body.part_numbers && body.part_numbers.length > 0 ? body.part_numbers : undefined;
  const text = body.part_numbers_text || undefined;
  // A search refuses both at once; a publish takes the list and ignores the text.
  if (operation === 'search' && list && text)
    throw validationFailed([{ path: 'part_numbers_text', issue: "Provide either 'part_numbers' or 'part_numbers_text', not both" }]);
  let parts = list ?? [];
  if (!list && text) {
    // Counted while splitting, so a huge text is refused without building its list.
    const split = refsFromText(text, max, PART_NUMBER);
    if (split.more) throw validationFailed([{ path: 'part_numbers_text', issue: `Maximum ${max} part numbers allowed` }]);
    parts = split.refs;
  }
  if (parts.length === 0) {
    const issue = text ? 'No valid part numbers found in text' : "Either 'part_numbers' or 'part_numbers_text' is required";
    throw validationFailed([{ path: text ? 'part_numbers_text' : 'part_numbers', issue }]);
  }
  if (parts.length > max) throw validationFailed([{ path: 'part_numbers', issue: `Maximum ${max} part numbers allowed` }]);
  if (operation === 'publish') return parts;
  // A search checks each part number and looks it up trimmed and in upper case.
  const invalid: ErrorDetail[] = [];
  const normalized = parts.map((pn, i) => {
    if (!pn || pn.length > MAX_PART_NUMBER_CHARS)
      invalid.push({ path: `part_numbers.${i}`, issue: `Invalid part number: ${pn.slice(0, MAX_PART_NUMBER_CHARS + 1)}` });
    return pn.trim().toUpperCase();
  });
  if (invalid.length > 0) throw validationFailed(invalid);
  return normalized;
}

export function bulkPartsRoutes(router: Router, batches: Batches, opts: { maxBodyBytes: number }): void {
  for (const operation of ['search', 'publish'] as const) {
    router.post(`/api/bulk-${operation}`, async (ctx) => {
      const raw = await readJson(ctx, opts.maxBodyBytes);
      const body = parse(BulkParts, raw);
      const partNumbers = partNumbersOf(body, operation);
      const idempotencyKey = idempotencyKeyOf(ctx, body.idempotency_key);
      const result = await submitCompat(ctx, batches, {
        // One name for both routes, and no body in the hash: as in the design, a key names one
        // batch, and the same key again answers it whatever the body.
        route: 'bulk-parts',
        raw: null,
        idempotencyKey,
        renamePath: renamer('part_numbers', { ref: '', text: '' }),
        // A part number is both the item's ref and the text it is looked up by.
        v1: { stages: OPERATIONS[operation], items: partNumbers.map((p) => ({ ref: p, text: p })) },
      });
      // The design answers 200 (FastAPI's default), for a new batch as for a replay.
      if (result.replayed) ctx.set('Idempotent-Replayed', 'true');
      ctx.body = toBulkAccepted(result.body, operation, result.replayed, idempotencyKey);
    });
  }

  router.get('/api/batches', async (ctx) => {
    const q = parse(ListBatchesOffsetQuery, ctx.query);
    const page = await batches.listByOffset(tenant(ctx), { ...q, status: q.status ? batchStatusesOf(q.status) : undefined });
    const now = new Date();
    ctx.body = { batches: page.batches.map((b) => toPartsBatch(b, null, now)), total: page.total };
  });

  const detail = async (tenantId: string, batch: BatchBody) => {
    // Like the design's column, which starts as an empty list: null until an item has failed.
    const failed =
      batch.counts.failed > 0 ? await batches.items(tenantId, batch.batch_id, { status: 'failed', limit: MAX_FAILED_ITEMS }) : undefined;
    return toPartsBatch(batch, failed && failed.items.length > 0 ? failed.items : null, new Date());
  };

  router.get('/api/batches/:id', async (ctx) => {
    const batch = await batches.get(tenant(ctx), ctx.params.id!);
    if (!batch) throw batchNotFound();
    ctx.body = await detail(tenant(ctx), batch);
  });

  router.delete('/api/batches/:id', async (ctx) => {
    const id = ctx.params.id!;
    const batch = await batches.get(tenant(ctx), id);
    if (!batch) throw batchNotFound();
    const refuse = (): BatchflowError =>
      new BatchflowError(400, 'conflict', `Cannot cancel batch with status: ${partsStatus(batch.status)}`);
    if (isTerminal(batch.status)) throw refuse();
    try {
      await batches.cancel(tenant(ctx), id, undefined);
    } catch (err) {
      // It finished in between.
      if (err instanceof BatchflowError && err.code === 'conflict') throw refuse();
      throw err;
    }
    ctx.body = { message: 'Batch cancellation initiated', batch_id: id };
  });
}
