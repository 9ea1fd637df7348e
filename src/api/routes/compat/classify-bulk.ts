/**
 * The classify design (shared/seeds/000): `POST /api/v1/classify/bulk` submits a classify-only
 * batch, and `GET /api/v1/jobs/{job_id}` reports it with a result per product. The job id is the
 * batch id's UUID form.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { ClassifyBulk } from '../../../contracts/compat';
import type { Batches } from '../../../batches';
import { batchIdOf, batchUuid } from '../../../batches/ids';
import { readJson } from '../../body';
import { notFound } from '../../../errors';
import { parse } from '../../validate';
import { classifyJobStatus, classifyPollUrl, toClassifyJob } from './shapes';
import { idempotencyKeyOf, renamer, submitCompat } from './submit';

/** Results in one report: twice the design's 500-product ceiling, so its jobs always fit. */
const RESULTS_PER_REPORT = 1_000;

const tenant = (ctx: Context): string => ctx.state.tenantId as string;

export function classifyBulkRoutes(router: Router, batches: Batches, opts: { maxBodyBytes: number }): void {
  router.post('/api/v1/classify/bulk', async (ctx) => {
    const raw = await readJson(ctx, opts.maxBodyBytes);
    const body = parse(ClassifyBulk, raw);
    const result = await submitCompat(ctx, batches, {
      route: 'classify/bulk',
      // The parsed body, not the raw one: fields the design ignores may nest without bound.
      raw: body,
      idempotencyKey: idempotencyKeyOf(ctx),
      renamePath: renamer('products', { ref: 'product_id', text: 'description', attributes: '' }),
      v1: {
        stages: ['classify'],
        priority: body.priority === 'high' || body.priority === 'express' ? 'express' : 'normal',
        ...(body.callback_url ? { callback_url: body.callback_url } : {}),
        metadata: body.corridor ? { corridor: body.corridor } : {},
        items: body.products.map((p) => {
          const attributes = {
            ...(p.origin_country ? { origin_country: p.origin_country } : {}),
            ...(p.image_url ? { image_url: p.image_url } : {}),
          };
          return { ref: p.product_id, text: p.description, ...(Object.keys(attributes).length > 0 ? { attributes } : {}) };
        }),
      },
    });
    ctx.status = result.replayed ? 200 : 202;
    if (result.replayed) ctx.set('Idempotent-Replayed', 'true');
    const batchId = result.body.batch_id;
    // A replay reports where the job is now; a new job is always queued.
    ctx.body = {
      job_id: batchUuid(batchId),
      status: result.replayed ? classifyJobStatus(result.body.status) : 'queued',
      estimated_seconds: result.body.estimated_seconds,
      poll_url: classifyPollUrl(batchId),
    };
  });

  router.get('/api/v1/jobs/:job_id', async (ctx) => {
    const id = batchIdOf(ctx.params.job_id!);
    const batch = id ? await batches.get(tenant(ctx), id) : undefined;
    if (!id || !batch) throw notFound('job');
    const page = await batches.items(tenant(ctx), id, { limit: RESULTS_PER_REPORT });
    if (!page) throw notFound('job');
    const more = page.next_cursor
      ? `/v1/batches/${id}/items?limit=${RESULTS_PER_REPORT}&cursor=${encodeURIComponent(page.next_cursor)}`
      : null;
    ctx.body = toClassifyJob(batch, page.items, more);
  });
}
