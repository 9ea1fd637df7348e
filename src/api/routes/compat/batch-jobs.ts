/**
 * The document design: `POST /batch/jobs` submits an ingest-only batch and answers a BatchJob;
 * `GET /batch/jobs/{id}` reports it, `DELETE /batch/jobs/{id}` cancels it. The job id is the
 * batch id. (The live stream is in batch-job-stream.ts.)
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { CreateBatchJob, EXPRESS_JOB_PRIORITY, type JobDocument } from '../../../contracts/compat';
import type { BatchService } from '../../../batches/service';
import type { BatchBody } from '../../../batches/view';
import { readJson } from '../../body';
import { notFound, validationFailed } from '../../errors';
import { parse } from '../../validate';
import { mapped } from '../mapped';
import { toBatchJob, type BatchJob } from './shapes';
import { idempotencyKeyOf, renamer, submitCompat } from './submit';

/** Failed documents listed in `errors`; the rest are in GET /v1/batches/{id}/items?status=failed. */
export const MAX_JOB_ERRORS = 100;

const tenant = (ctx: Context): string => ctx.state.tenantId as string;

/** A document's stored content type, when its metadata names one. */
function contentTypeOf(doc: JobDocument): string | undefined {
  const t = doc.metadata?.content_type ?? doc.metadata?.mime_type;
  return typeof t === 'string' && t.length > 0 && t.length <= 255 ? t : undefined;
}

/** The BatchJob of a batch the caller has already found: its body plus its first failed documents. */
export async function batchJobOf(service: BatchService, tenantId: string, batch: BatchBody): Promise<BatchJob> {
  const failed = batch.counts.failed > 0 ? await service.items(tenantId, batch.batch_id, { status: 'failed', limit: MAX_JOB_ERRORS }) : undefined;
  return toBatchJob(batch, tenantId, failed?.items ?? [], new Date());
}

export function batchJobRoutes(router: Router, service: BatchService, opts: { maxBodyBytes: number }): void {
  router.post('/batch/jobs', async (ctx) => {
    const raw = await readJson(ctx, opts.maxBodyBytes);
    const body = parse(CreateBatchJob, raw);
    // Another tenant's id in the body is the client's mistake, not a missing resource: 400, and
    // the answer is the same whether or not that tenant exists.
    if (body.tenant_id !== undefined && body.tenant_id !== tenant(ctx)) {
      throw validationFailed([{ path: 'tenant_id', issue: "does not match the API key's tenant" }]);
    }
    const result = await submitCompat(ctx, service, {
      route: 'batch/jobs',
      raw,
      idempotencyKey: idempotencyKeyOf(ctx),
      renamePath: renamer('documents', { ref: 'filename', content: 'content', content_type: 'metadata', attributes: 'metadata' }),
      v1: {
        stages: ['ingest'],
        priority: body.priority >= EXPRESS_JOB_PRIORITY ? 'express' : 'normal',
        metadata: { ...(body.collection !== undefined ? { collection: body.collection } : {}), job_priority: body.priority },
        items: body.documents.map((d) => {
          const contentType = contentTypeOf(d);
          return {
            ref: d.filename,
            content: d.content,
            ...(contentType !== undefined ? { content_type: contentType } : {}),
            ...(d.metadata !== undefined ? { attributes: d.metadata } : {}),
          };
        }),
      },
    });
    ctx.status = result.replayed ? 200 : 202;
    if (result.replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.set('Location', `/batch/jobs/${result.body.batch_id}`);
    ctx.body = await batchJobOf(service, tenant(ctx), result.body);
  });

  router.get('/batch/jobs/:id', async (ctx) => {
    const batch = await service.get(tenant(ctx), ctx.params.id!);
    if (!batch) throw notFound('job');
    ctx.body = await batchJobOf(service, tenant(ctx), batch);
  });

  router.delete('/batch/jobs/:id', async (ctx) => {
    const batch = await mapped(() => service.cancel(tenant(ctx), ctx.params.id!, undefined));
    if (!batch) throw notFound('job');
    ctx.status = 202;
    ctx.body = await batchJobOf(service, tenant(ctx), batch);
  });
}
