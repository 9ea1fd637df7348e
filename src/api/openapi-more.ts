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

/** FastAPI's `detail` beside the contract's `error`: what the document and part-number designs' clients read. */
const fastApiErr = (description: string) => json(res.ErrorBody.extend(compat.FastApiDetail.shape), description);

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
        summary: 'Compatibility (shared/seeds/000): a classify-only batch of up to 500 products',
        tags: ['compatibility'],
        requestBody: { content: { 'application/json': { schema: compat.ClassifyBulk } } },
        responses: { '202': json(compat.ClassifyJobAccepted, 'the job was created'), '200': json(compat.ClassifyJobAccepted, 'an Idempotency-Key replay'), ...invalid, ...common },
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
                responses: { '200': json(compat.BatchJob, 'the job (new, or an Idempotency-Key replay)'), '400': fastApiErr('`validation_failed`'), '404': fastApiErr('`Tenant not found`: tenant_id is not the key’s tenant'), ...common },
              },
            },
          ],
          [
            `${prefix}/{job_id}`,
            {
              get: { summary: 'Compatibility (001): a document job', tags: ['compatibility'], requestParams: { path: JobId }, responses: { '200': json(compat.BatchJob, 'the job'), ...jobNotFound, ...common } },
              delete: {
                summary: 'Compatibility (001): cancel a document job',
                tags: ['compatibility'],
                requestParams: { path: JobId },
                responses: { '200': json(compat.JobCancelled, 'cancelling'), '404': fastApiErr('`Job not found or not cancellable`'), ...common },
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
            responses: { '200': json(compat.BulkOperationResponse, 'the batch was created, or the idempotency_key named it already'), '400': fastApiErr('`validation_failed`'), ...common },
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
      get: { summary: 'Compatibility (003): a batch with progress_percent and failed_items', tags: ['compatibility'], requestParams: { path: BatchId }, responses: { '200': json(compat.BatchStatusResponse, 'the batch'), '404': fastApiErr('`Batch not found`'), ...common } },
      delete: {
        summary: 'Compatibility (003): cancel a batch',
        tags: ['compatibility'],
        requestParams: { path: BatchId },
        responses: { '200': json(compat.CancelInitiated, 'cancellation initiated'), '400': fastApiErr('`Cannot cancel batch with status: …`'), '404': fastApiErr('`Batch not found`'), ...common },
      },
    },
  };
}
