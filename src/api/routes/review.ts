/** Human review and the built-in catalog: thin HTTP over the use-case layer (src/batches/review.ts). */
import Router from '@koa/router';
import type { Context } from 'koa';
import { CatalogQuery, ResolveReview, ReviewQuery } from '../../contracts/http';
import type { Batches } from '../../batches';
import { readJson } from '../body';
import { notFound } from '../../errors';
import { parse } from '../validate';

const tenant = (ctx: Context): string => ctx.state.tenantId as string;

export function reviewRoutes(batches: Batches, opts: { maxBodyBytes: number }): Router {
  const router = new Router({ prefix: '/v1' });

  router.get('/review', async (ctx) => {
    const q = parse(ReviewQuery, ctx.query);
    ctx.body = await batches.reviewQueue(tenant(ctx), { batchId: q.batch_id, limit: q.limit, cursor: q.cursor });
  });

  router.post('/review/:batch_id/:ref', async (ctx) => {
    const { label } = parse(ResolveReview, await readJson(ctx, opts.maxBodyBytes));
    const body = await batches.resolveReview(tenant(ctx), ctx.params.batch_id!, ctx.params.ref!, label);
    if (!body) throw notFound();
    ctx.status = 202;
    ctx.body = body;
  });

  router.get('/catalog', async (ctx) => {
    const q = parse(CatalogQuery, ctx.query);
    ctx.body = await batches.catalog(tenant(ctx), { batchId: q.batch_id, limit: q.limit, cursor: q.cursor });
  });

  return router;
}
