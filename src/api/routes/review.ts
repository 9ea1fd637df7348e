/** Human review and the built-in catalog: thin HTTP over the batch service and the catalog. */
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Kysely } from 'kysely';
import { CatalogQuery, ResolveReview, ReviewQuery } from '../../contracts/http';
import type { BatchService } from '../../batches/service';
import { listCatalog } from '../../db/catalog';
import type { Database } from '../../db/schema';
import { readJson } from '../body';
import { notFound } from '../../errors';
import { parse } from '../validate';

const tenant = (ctx: Context): string => ctx.state.tenantId as string;

export function reviewRoutes(service: BatchService, db: Kysely<Database>, opts: { maxBodyBytes: number }): Router {
  const router = new Router({ prefix: '/v1' });

  router.get('/review', async (ctx) => {
    const q = parse(ReviewQuery, ctx.query);
    ctx.body = await service.reviewQueue(tenant(ctx), { batchId: q.batch_id, limit: q.limit, cursor: q.cursor });
  });

  router.post('/review/:batch_id/:ref', async (ctx) => {
    const { label } = parse(ResolveReview, await readJson(ctx, opts.maxBodyBytes));
    const body = await service.resolveReview(tenant(ctx), ctx.params.batch_id!, ctx.params.ref!, label);
    if (!body) throw notFound();
    ctx.status = 202;
    ctx.body = body;
  });

  router.get('/catalog', async (ctx) => {
    const q = parse(CatalogQuery, ctx.query);
    const page = await listCatalog(db, tenant(ctx), { batchId: q.batch_id, limit: q.limit, cursor: q.cursor });
    ctx.body = { items: page.items, next_cursor: page.nextCursor };
  });

  return router;
}
