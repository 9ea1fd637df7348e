/**
 * The OpenAPI paths of live progress, exports, retention and the compatibility routes. Request
 * schemas are the validating ones; the compatibility answers are described by their main fields.
 */
import { z } from 'zod';
import type { ZodOpenApiOperationObject, ZodOpenApiPathsObject } from 'zod-openapi';
import * as compat from '../contracts/compat';
import * as http from '../contracts/http';
import * as res from '../contracts/responses';

type Responses = ZodOpenApiOperationObject['responses'];
const BatchId = z.object({ id: z.string().meta({ description: 'the batch id' }) });
const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });
const err = (description: string) => json(res.ErrorBody, description);
const common: Responses = { '401': err('`unauthorized`'), '429': err('`rate_limited`, with `Retry-After`'), '503': err('`unavailable`') };
const notFound: Responses = { '404': err('unknown batch or another tenant’s (`not_found`)') };
const invalid: Responses = { '400': err('`validation_failed` with every failing path in `details`, or `malformed_json`') };
const conflict: Responses = { '409': err('the batch has already finished (`conflict`)') };

const ClassifyJobAccepted = z.looseObject({ job_id: z.string(), status: z.literal('queued'), estimated_seconds: z.number(), poll_url: z.string() });
const ClassifyJob = z.looseObject({
  job_id: z.string(),
  status: z.enum(['queued', 'processing', 'completed', 'partial', 'failed', 'cancelled']),
  results: z.array(
    z.looseObject({ product_id: z.string(), status: z.string(), hs_code: z.string().nullable(), confidence: z.number().nullable(), tier: z.string().nullable() }),
  ),
});
const BatchJob = z
  .looseObject({
    id: z.string(),
    tenant_id: z.string(),
    collection: z.string().nullable(),
    status: z.enum(['pending', 'processing', 'paused', 'cancelling', 'completed', 'failed', 'cancelled']),
    priority: z.number().int(),
    total_documents: z.number().int(),
    processed_documents: z.number().int(),
    failed_documents: z.number().int(),
    progress: z.number(),
    created_at: z.string(),
    updated_at: z.string(),
    completed_at: z.string().nullable(),
    errors: z.array(z.object({ filename: z.string(), code: z.string(), message: z.string() })),
  })
  .meta({ id: 'BatchJob' });
const PartsAccepted = z.looseObject({ batch_id: z.string(), total_items: z.number().int(), status: z.string(), message: z.string(), idempotency_key: z.string().nullable() });
const PartsBatch = z.looseObject({ batch_id: z.string(), status: z.string(), progress_percent: z.number(), total_items: z.number().int() });

const sse = (description: string): Responses => ({ '200': { description, content: { 'text/event-stream': { schema: { type: 'string' } } } } });

export function morePaths(): ZodOpenApiPathsObject {
  return {
    '/v1/batches/cleanup': {
      post: {
        summary: 'Run retention now for the tenant',
        tags: ['batches'],
        requestBody: { content: { 'application/json': { schema: http.CleanupBatches } } },
        responses: { '200': json(z.object({ deleted: z.number().int() }), 'how many finished batches were deleted'), ...invalid, ...common },
      },
    },
    '/v1/batches/{id}/events': {
      get: {
        summary: 'Live progress as Server-Sent Events',
        description:
          'Events `progress` (the batch body, at least every 2 s while anything changes), `item_failed` (the item), and one terminal event named after the final status, after which the stream closes. Send `Last-Event-ID` to resume without repeats.',
        tags: ['live'],
        requestParams: { path: BatchId, header: z.object({ 'Last-Event-ID': z.string().optional() }) },
        responses: { ...sse('the event stream'), '204': { description: 'Last-Event-ID names the terminal event: nothing more will come' }, ...notFound, ...common },
      },
    },
    '/v1/batches/{id}/ws': {
      get: {
        summary: 'The same events over a WebSocket, one JSON message each: {"type", "id", ...data}',
        description: 'The key goes in `X-Api-Key`/`Authorization` or, from a browser, in `?api_key=`. `?last_event_id=` resumes.',
        tags: ['live'],
        requestParams: { path: BatchId, query: z.object({ api_key: z.string().optional(), last_event_id: z.string().optional() }) },
        responses: { '101': { description: 'switching to the WebSocket protocol' }, '426': err('not a WebSocket upgrade (`upgrade_required`)'), ...notFound, ...common },
      },
    },
    '/v1/batches/{id}/export': {
      get: {
        summary: 'Every item result as a file, streamed in constant memory',
        tags: ['batches'],
        requestParams: { path: BatchId, query: http.ExportQuery },
        responses: {
          '200': {
            description: 'the file (`Content-Disposition: attachment; filename="<batch_id>.<ext>"`)',
            content: {
              'text/csv': { schema: { type: 'string' } },
              'application/x-ndjson': { schema: { type: 'string' } },
              'application/json': { schema: { type: 'string' } },
              'application/vnd.apache.parquet': { schema: { type: 'string', format: 'binary' } },
            },
          },
          ...invalid,
          ...notFound,
          ...common,
        },
      },
    },
    '/api/v1/classify/bulk': {
      post: {
        summary: 'Compatibility: a classify-only batch of up to 500 products',
        tags: ['compatibility'],
        requestBody: { content: { 'application/json': { schema: compat.ClassifyBulk } } },
        responses: { '202': json(ClassifyJobAccepted, 'the job was created'), ...invalid, ...common },
      },
    },
    '/api/v1/jobs/{job_id}': {
      get: {
        summary: 'Compatibility: a classify job with its per-product results',
        tags: ['compatibility'],
        requestParams: { path: z.object({ job_id: z.string() }) },
        responses: { '200': json(ClassifyJob, 'the job'), ...notFound, ...common },
      },
    },
    '/batch/jobs': {
      post: {
        summary: 'Compatibility: an ingest-only batch of documents',
        tags: ['compatibility'],
        requestBody: { content: { 'application/json': { schema: compat.CreateBatchJob } } },
        responses: { '202': json(BatchJob, 'the job was created'), ...invalid, ...common },
      },
    },
    '/batch/jobs/{id}': {
      get: { summary: 'Compatibility: a document job', tags: ['compatibility'], requestParams: { path: BatchId }, responses: { '200': json(BatchJob, 'the job'), ...notFound, ...common } },
      delete: { summary: 'Compatibility: cancel a document job', tags: ['compatibility'], requestParams: { path: BatchId }, responses: { '202': json(BatchJob, 'the job, cancelling'), ...notFound, ...conflict, ...common } },
    },
    '/batch/jobs/{id}/stream': {
      get: {
        summary: 'Compatibility: BatchJob snapshots as Server-Sent Events; closes on completed, failed or cancelled',
        tags: ['compatibility'],
        requestParams: { path: BatchId },
        responses: { ...sse('BatchJob events'), ...notFound, ...common },
      },
    },
    ...Object.fromEntries(
      (['search', 'publish'] as const).map((op) => [
        `/api/bulk-${op}`,
        {
          post: {
            summary: `Compatibility: part numbers to ${op === 'search' ? 'classify' : 'classify and publish'}`,
            tags: ['compatibility'],
            requestBody: { content: { 'application/json': { schema: compat.BulkParts } } },
            responses: {
              '202': json(PartsAccepted, 'the batch was created'),
              '200': json(PartsAccepted, 'an idempotency_key replay'),
              '422': err('the same idempotency_key with a different body'),
              ...invalid,
              ...common,
            },
          },
        },
      ]),
    ),
    '/api/batches': {
      get: {
        summary: 'Compatibility: the tenant’s batches, with offset paging',
        tags: ['compatibility'],
        requestParams: { query: compat.ListBatchesOffsetQuery },
        responses: { '200': json(z.looseObject({ batches: z.array(PartsBatch), total: z.number().int(), limit: z.number().int(), offset: z.number().int() }), 'a page'), ...invalid, ...common },
      },
    },
    '/api/batches/{id}': {
      get: { summary: 'Compatibility: a batch with progress_percent and failed_items', tags: ['compatibility'], requestParams: { path: BatchId }, responses: { '200': json(PartsBatch, 'the batch'), ...notFound, ...common } },
      delete: { summary: 'Compatibility: cancel a batch', tags: ['compatibility'], requestParams: { path: BatchId }, responses: { '202': json(PartsBatch, 'the batch, cancelling'), ...notFound, ...conflict, ...common } },
    },
  };
}
