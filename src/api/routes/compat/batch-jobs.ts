/**
 * The document design (shared/seeds/001): `POST /batch/jobs` submits an ingest-only batch and
 * answers its BatchJob; `GET /batch/jobs/{job_id}` reports it, `DELETE /batch/jobs/{job_id}`
 * cancels it. The job id is the batch id's UUID form. The design mounts its router under
 * `/api/v1` too, so both prefixes serve. (The live stream is in batch-job-stream.ts.)
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { CreateBatchJob, EXPRESS_JOB_PRIORITY, type JobDocument } from '../../../contracts/compat';
import type { Batches } from '../../../batches';
import { batchIdOf, batchUuid, tenantUuid } from '../../../batches/ids';
import { readJson } from '../../body';
import { BatchflowError, notFound } from '../../../errors';
import { parse } from '../../validate';
import { toBatchJob } from './shapes';
import { idempotencyKeyOf, renamer, submitCompat } from './submit';

/** The prefixes the design's clients call: its route table's, and its app's `/api/v1` mount. */
export const BATCH_JOB_PREFIXES = ['/batch/jobs', '/api/v1/batch/jobs'];

const tenant = (ctx: Context): string => ctx.state.tenantId as string;

/** A document's stored content type, when its metadata names one. */
function contentTypeOf(doc: JobDocument): string | undefined {
  const t = doc.metadata?.content_type ?? doc.metadata?.mime_type;
  return typeof t === 'string' && t.length > 0 && t.length <= 255 ? t : undefined;
}

/** The batch a job id names, or the design's 404. */
export function jobBatchId(ctx: Context, message = 'Job not found'): string {
  const id = batchIdOf(ctx.params.job_id!);
  if (!id) throw new BatchflowError(404, 'not_found', message);
  return id;
}

export function batchJobRoutes(router: Router, batches: Batches, opts: { maxBodyBytes: number }): void {
  for (const prefix of BATCH_JOB_PREFIXES) {
    router.post(prefix, async (ctx) => {
      const raw = await readJson(ctx, opts.maxBodyBytes);
      const body = parse(CreateBatchJob, raw);
      // The design looks the tenant up and answers 404 when it does not know it. Here a key
      // belongs to one tenant: any other id (whether or not such a tenant exists) is not found.
      if (body.tenant_id && body.tenant_id.toLowerCase() !== tenantUuid(tenant(ctx)) && body.tenant_id !== tenant(ctx)) {
        throw new BatchflowError(404, 'not_found', 'Tenant not found');
      }
      const result = await submitCompat(ctx, batches, {
        route: 'batch/jobs',
        // The parsed body, not the raw one: fields the design ignores may nest without bound.
        raw: body,
        idempotencyKey: idempotencyKeyOf(ctx),
        renamePath: renamer('documents', { ref: 'filename', content: 'content', content_type: 'metadata', attributes: 'metadata' }),
        v1: {
          stages: ['ingest'],
          priority: body.priority >= EXPRESS_JOB_PRIORITY ? 'express' : 'normal',
          metadata: { ...(body.collection ? { collection: body.collection } : {}), job_priority: body.priority },
          items: body.documents.map((d) => {
            const contentType = contentTypeOf(d);
            return {
              ref: d.filename,
              content: d.content,
              ...(contentType !== undefined ? { content_type: contentType } : {}),
              ...(d.metadata ? { attributes: d.metadata } : {}),
            };
          }),
        },
      });
      // The design answers 200 (FastAPI's default) with the BatchJob, for a new job as for a replay.
      if (result.replayed) ctx.set('Idempotent-Replayed', 'true');
      ctx.set('Location', `${prefix}/${batchUuid(result.body.batch_id)}`);
      ctx.body = toBatchJob(result.body, tenant(ctx), new Date());
    });

    router.get(`${prefix}/:job_id`, async (ctx) => {
      const batch = await batches.get(tenant(ctx), jobBatchId(ctx));
      if (!batch) throw notFound('Job');
      ctx.body = toBatchJob(batch, tenant(ctx), new Date());
    });

    router.delete(`${prefix}/:job_id`, async (ctx) => {
      // The design cancels only pending and processing jobs, and answers 404 for any other.
      const gone = 'Job not found or not cancellable';
      try {
        const batch = await batches.cancel(tenant(ctx), jobBatchId(ctx, gone), undefined);
        if (!batch) throw new BatchflowError(404, 'not_found', gone);
      } catch (err) {
        if (err instanceof BatchflowError && err.code === 'conflict') throw new BatchflowError(404, 'not_found', gone);
        throw err;
      }
      ctx.body = { status: 'cancelled' };
    });
  }
}
