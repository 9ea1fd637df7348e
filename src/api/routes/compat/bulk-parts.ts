/**
 * The part-number design: `POST /api/bulk-search` (classify each part number) and
 * `POST /api/bulk-publish` (classify, then publish each), and `/api/batches` to follow them.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { BulkParts, ListBatchesOffsetQuery } from '../../../contracts/compat';
import type { BatchService } from '../../../batches/service';
import type { BatchBody } from '../../../batches/view';
import type { Stage } from '../../../contracts/workflow';
import { readJson } from '../../body';
import { notFound } from '../../errors';
import { parse } from '../../validate';
import { mapped } from '../mapped';
import { toBulkAccepted, toPartsBatch, toPartsBatchDetail } from './shapes';
import { idempotencyKeyOf, renamer, submitCompat } from './submit';

/** Failed items listed in `failed_items`; the rest are in GET /v1/batches/{id}/items?status=failed. */
export const MAX_FAILED_ITEMS = 1_000;

const OPERATIONS: Record<'search' | 'publish', Stage[]> = {
  search: ['classify'],
  publish: ['classify', 'publish'],
};

const tenant = (ctx: Context): string => ctx.state.tenantId as string;

export function bulkPartsRoutes(router: Router, service: BatchService, opts: { maxBodyBytes: number }): void {
  for (const operation of ['search', 'publish'] as const) {
    router.post(`/api/bulk-${operation}`, async (ctx) => {
      const raw = await readJson(ctx, opts.maxBodyBytes);
      const body = parse(BulkParts, raw);
      const idempotencyKey = idempotencyKeyOf(ctx, body.idempotency_key);
      const result = await submitCompat(ctx, service, {
        route: `bulk-${operation}`,
        raw,
        idempotencyKey,
        renamePath: renamer('part_numbers', { ref: '', text: '' }, 'part_numbers_text'),
        v1: {
          stages: OPERATIONS[operation],
          // A part number is both the item's ref and the text it is looked up by, as with items_text.
          ...(body.part_numbers !== undefined ? { items: body.part_numbers.map((p) => ({ ref: p, text: p })) } : { items_text: body.part_numbers_text! }),
        },
      });
      ctx.status = result.replayed ? 200 : 202;
      if (result.replayed) ctx.set('Idempotent-Replayed', 'true');
      ctx.body = toBulkAccepted(result.body, operation, result.replayed, idempotencyKey);
    });
  }

  router.get('/api/batches', async (ctx) => {
    const q = parse(ListBatchesOffsetQuery, ctx.query);
    const page = await mapped(() => service.listByOffset(tenant(ctx), q));
    ctx.body = { batches: page.batches.map(toPartsBatch), total: page.total, limit: q.limit, offset: q.offset };
  });

  const detail = async (tenantId: string, batch: BatchBody) => {
    const failed = batch.counts.failed > 0 ? await service.items(tenantId, batch.batch_id, { status: 'failed', limit: MAX_FAILED_ITEMS }) : undefined;
    return toPartsBatchDetail(batch, failed?.items ?? []);
  };

  router.get('/api/batches/:id', async (ctx) => {
    const batch = await service.get(tenant(ctx), ctx.params.id!);
    if (!batch) throw notFound();
    ctx.body = await detail(tenant(ctx), batch);
  });

  router.delete('/api/batches/:id', async (ctx) => {
    const batch = await mapped(() => service.cancel(tenant(ctx), ctx.params.id!, undefined));
    if (!batch) throw notFound();
    ctx.status = 202;
    ctx.body = await detail(tenant(ctx), batch);
  });
}
