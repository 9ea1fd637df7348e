/**
 * The OpenAPI paths of the compatibility routes. Request schemas are the validating ones; the
 * answers are described by their main fields.
 */
import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import * as compat from '../../contracts/compat';
import { BatchId, common, fastApiErr, invalid, json, notFound, sse } from './shared';

export function compatPaths(): ZodOpenApiPathsObject {
  return {
    '/api/v1/classify/bulk': {
      post: {
        summary: 'Compatibility (shared/seeds/000): a classify-only batch of up to 500 products',
        tags: ['compatibility'],
        requestBody: { content: { 'application/json': { schema: compat.ClassifyBulk } } },
        responses: {
          '202': json(compat.ClassifyJobAccepted, 'the job was created'),
          '200': json(compat.ClassifyJobAccepted, 'an Idempotency-Key replay'),
          ...invalid,
          ...common,
        },
      },
    },
    '/api/v1/jobs/{job_id}': {
      get: {
        summary: 'Compatibility (000): a classify job with its per-product results',
        tags: ['compatibility'],
        requestParams: { path: z.object({ job_id: z.string().describe('the job id (a UUID) or the batch id') }) },
        responses: { '200': json(compat.ClassifyJob, 'the job'), ...notFound, ...common },
      },
    },
    ...Object.fromEntries(
      ['/batch/jobs', '/api/v1/batch/jobs'].flatMap((prefix) => {
        const JobId = z.object({ job_id: z.string().describe('the job id (a UUID) or the batch id') });
        const jobNotFound = { '404': fastApiErr('`Job not found`') };
        return [
          [
            prefix,
            {
              post: {
                summary: 'Compatibility (shared/seeds/001): an ingest-only batch of documents',
                tags: ['compatibility'],
                requestBody: { content: { 'application/json': { schema: compat.CreateBatchJob } } },
                responses: {
                  '200': json(compat.BatchJob, 'the job (new, or an Idempotency-Key replay)'),
                  '400': fastApiErr('`validation_failed`'),
                  '404': fastApiErr('`Tenant not found`: tenant_id is not the key’s tenant'),
                  ...common,
                },
              },
            },
          ],
          [
            `${prefix}/{job_id}`,
            {
              get: {
                summary: 'Compatibility (001): a document job',
                tags: ['compatibility'],
                requestParams: { path: JobId },
                responses: { '200': json(compat.BatchJob, 'the job'), ...jobNotFound, ...common },
              },
              delete: {
                summary: 'Compatibility (001): cancel a document job',
                tags: ['compatibility'],
                requestParams: { path: JobId },
                responses: {
                  '200': json(compat.JobCancelled, 'cancelling'),
                  '404': fastApiErr('`Job not found or not cancellable`'),
                  ...common,
                },
              },
            },
          ],
          [
            `${prefix}/{job_id}/stream`,
            {
              get: {
                summary: 'Compatibility (001): progress as Server-Sent Events',
                description:
                  'Events named `progress` carry a ProgressEvent: `start`, one `progress` per document ingested and one `fail` per document that failed (in document order), then `complete` or `cancel`. Last comes an event named `complete` with `{"status": "completed"|"failed"|"cancelled"}`, and the stream closes. `Last-Event-ID` resumes.',
                tags: ['compatibility'],
                requestParams: { path: JobId },
                responses: { ...sse('ProgressEvent events'), ...jobNotFound, ...common },
              },
            },
          ],
        ];
      }),
    ),
    ...Object.fromEntries(
      (['search', 'publish'] as const).map((op) => [
        `/api/bulk-${op}`,
        {
          post: {
            summary: `Compatibility (shared/seeds/003): part numbers to ${op === 'search' ? 'classify' : 'publish'}`,
            tags: ['compatibility'],
            requestBody: { content: { 'application/json': { schema: compat.BulkParts } } },
            responses: {
              '200': json(compat.BulkOperationResponse, 'the batch was created, or the idempotency_key named it already'),
              '400': fastApiErr('`validation_failed`'),
              ...common,
            },
          },
        },
      ]),
    ),
    '/api/batches': {
      get: {
        summary: 'Compatibility (003): the tenant’s batches, with offset paging',
        tags: ['compatibility'],
        requestParams: { query: compat.ListBatchesOffsetQuery },
        responses: { '200': json(compat.BatchListResponse, 'a page'), '400': fastApiErr('`validation_failed`'), ...common },
      },
    },
    '/api/batches/{id}': {
      get: {
        summary: 'Compatibility (003): a batch with progress_percent and failed_items',
        tags: ['compatibility'],
        requestParams: { path: BatchId },
        responses: { '200': json(compat.BatchStatusResponse, 'the batch'), '404': fastApiErr('`Batch not found`'), ...common },
      },
      delete: {
        summary: 'Compatibility (003): cancel a batch',
        tags: ['compatibility'],
        requestParams: { path: BatchId },
        responses: {
          '200': json(compat.CancelInitiated, 'cancellation initiated'),
          '400': fastApiErr('`Cannot cancel batch with status: …`'),
          '404': fastApiErr('`Batch not found`'),
          ...common,
        },
      },
    },
  };
}
