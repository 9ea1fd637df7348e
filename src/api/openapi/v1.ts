/**
 * The OpenAPI paths of /v1 batches, control and review, and of the operations routes (health,
 * metrics, docs, console). Request schemas are the validating ones (src/contracts).
 */
import { z } from 'zod';
import type { ZodOpenApiOperationObject, ZodOpenApiPathsObject } from 'zod-openapi';
import * as http from '../../contracts/http';
import * as res from '../../contracts/responses';
import { common, invalid } from './shared';

const BatchId = z.object({ id: z.string().meta({ description: 'the batch id', example: 'b_01JC6Q0Z8T5J4W5V8M9N2K3P4R' }) });

const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });
const error = (description: string) => json(res.ErrorBody, description);

/** The rate-limit headers every authenticated answer carries. */
const rateHeaders = {
  'X-RateLimit-Limit': {
    description:
      'requests allowed in the window of this route family; by default, per key and minute: 60 submissions, 600 reads (status, items, lists, live streams, control actions), 30 exports',
    schema: { type: 'integer' as const },
  },
  'X-RateLimit-Remaining': { description: 'requests left in the window', schema: { type: 'integer' as const } },
  'X-RateLimit-Reset': { description: 'when the window resets, in epoch seconds', schema: { type: 'integer' as const } },
};

/** The failures any authenticated route can answer, plus the ones named per route. */
function errors(...extra: Array<'400' | '404' | '409' | '413' | '415' | '422'>): ZodOpenApiOperationObject['responses'] {
  const all: Record<string, ReturnType<typeof error>> = {
    '401': error('no key, or an unknown or revoked key (`unauthorized`)'),
    '429': error('`rate_limited` or `too_many_active_batches`; always with `Retry-After`'),
    '503': error('Temporal or the database is unreachable; the request had no effect (`unavailable`)'),
  };
  const text = {
    '400': 'the body or query fails the schema (`validation_failed`, every failing path in `details`) or is not JSON (`malformed_json`)',
    '404': 'unknown batch, or another tenant’s (`not_found`)',
    '409': 'impossible in the batch’s state, e.g. it has finished (`conflict`)',
    '413': 'the body is over the byte limit (`payload_too_large`)',
    '415': 'a content type this route does not take (`unsupported_media_type`)',
    '422': 'the same Idempotency-Key came with a different body (`idempotency_key_reused`)',
  };
  for (const code of extra) all[code] = error(text[code]);
  return all;
}

const ok = (status: string, schema: z.ZodType, description: string): ZodOpenApiOperationObject['responses'] => ({
  [status]: { ...json(schema, description), headers: rateHeaders },
});

/** Control actions answer 202 with the batch's body, 409 once it has finished. */
const control = (summary: string, body?: z.ZodType): ZodOpenApiOperationObject => ({
  summary,
  tags: ['control'],
  requestParams: { path: BatchId },
  ...(body ? { requestBody: { content: { 'application/json': { schema: body } } } } : {}),
  responses: { ...ok('202', res.Batch, 'the batch, as it stands after the action'), ...errors('400', '404', '409') },
});

export function v1Paths(): ZodOpenApiPathsObject {
  return {
    '/v1/batches': {
      post: {
        summary: 'Submit a batch (JSON, CSV or NDJSON)',
        description:
          'JSON takes the options in the body. `text/csv` (a header row; `ref`, `text`, `content`, `content_type`, other columns become attributes) and `application/x-ndjson` (one item object a line) take them as query parameters. A file with a bad row is refused whole, naming the row and the column.',
        tags: ['batches'],
        requestParams: {
          header: z.object({
            'Idempotency-Key': z
              .string()
              .max(255)
              .optional()
              .meta({ description: 'same key and body → 200 with the same batch; another body → 422' }),
          }),
          query: http.SubmitBatchQuery,
        },
        requestBody: {
          content: {
            'application/json': { schema: http.SubmitBatch },
            'text/csv': { schema: { type: 'string' } },
            'application/x-ndjson': { schema: { type: 'string' } },
          },
        },
        responses: {
          ...ok('202', res.Submitted, 'the batch was created and its workflow started'),
          ...ok(
            '200',
            res.Submitted,
            'an Idempotency-Key replay: the batch the first request created (header `Idempotent-Replayed: true`)',
          ),
          ...errors('400', '413', '415', '422'),
        },
      },
      get: {
        summary: 'List the tenant’s batches, newest first',
        tags: ['batches'],
        requestParams: { query: http.ListBatchesQuery },
        responses: { ...ok('200', res.BatchList, 'a page of batches'), ...errors('400') },
      },
    },
    '/v1/batches/cancel': {
      post: {
        summary: 'Cancel every batch of the tenant in one state',
        tags: ['control'],
        requestBody: { content: { 'application/json': { schema: http.CancelBatches } } },
        responses: { ...ok('202', res.CancelledList, 'the ids of the batches signalled'), ...errors('400') },
      },
    },
    '/v1/batches/{id}': {
      get: {
        summary: 'Read a batch (live from its workflow while it runs)',
        tags: ['batches'],
        requestParams: { path: BatchId },
        responses: { ...ok('200', res.Batch, 'the batch'), ...errors('404') },
      },
      patch: control('Change max_parallel_chunks or max_failure_ratio while the batch runs', http.ConfigureBatch),
      delete: control('Cancel the batch with its on_cancel default'),
    },
    '/v1/batches/{id}/items': {
      get: {
        summary: 'Page through item results',
        tags: ['batches'],
        requestParams: { path: BatchId, query: http.ListItemsQuery },
        responses: { ...ok('200', res.ItemPage, 'a page of items'), ...errors('400', '404') },
      },
    },
    '/v1/batches/{id}/cancel': { post: control('Cancel the batch; rollback undoes what it staged or published', http.CancelBatch) },
    '/v1/batches/{id}/pause': { post: control('Pause: no new chunk starts; work in flight finishes') },
    '/v1/batches/{id}/resume': { post: control('Resume a paused batch') },
    '/v1/batches/{id}/retry-failed': {
      post: {
        summary: 'Run the failed items again (same refs, same publish idempotency keys)',
        tags: ['control'],
        requestParams: { path: BatchId },
        responses: { ...ok('202', res.RetryFailedResult, 'how many items run again'), ...errors('404', '409') },
      },
    },
    '/v1/review': {
      get: {
        summary: 'Items waiting for a person',
        tags: ['review'],
        requestParams: { query: http.ReviewQuery },
        responses: { ...ok('200', res.ReviewPage, 'a page of items in review'), ...errors('400') },
      },
    },
    '/v1/review/{batch_id}/{ref}': {
      post: {
        summary: 'Resolve an item in review with a label; its remaining stages then run',
        tags: ['review'],
        requestParams: { path: z.object({ batch_id: z.string(), ref: z.string() }) },
        requestBody: { content: { 'application/json': { schema: http.ResolveReview } } },
        responses: { ...ok('202', res.ReviewResolved, 'the label is recorded'), ...errors('400', '404', '409') },
      },
    },
    '/v1/catalog': {
      get: {
        summary: 'The built-in catalog (the publish target when PUBLISH_URL is unset)',
        tags: ['review'],
        requestParams: { query: http.CatalogQuery },
        responses: { ...ok('200', res.CatalogPage, 'a page of published entries'), ...errors('400') },
      },
    },
    '/healthz': {
      get: { summary: 'The process is alive', tags: ['operations'], security: [], responses: { '200': { description: 'alive' } } },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics of this process (no key; keep it off the public network)',
        tags: ['operations'],
        security: [],
        responses: {
          '200': { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } },
        },
      },
    },
    '/readyz': {
      get: {
        summary: "Temporal and the database are reachable, and the namespace (named in the answer) has batchflow's search attributes",
        tags: ['operations'],
        security: [],
        responses: {
          '200': { description: 'ready' },
          '503': {
            description:
              'a dependency is unreachable, or the namespace lacks search attributes (`checks.temporal` names them, `fix` is the command that adds them)',
          },
        },
      },
    },
    '/openapi.json': {
      get: { summary: 'This document', tags: ['operations'], security: [], responses: { '200': { description: 'OpenAPI 3.1' } } },
    },
    '/docs': {
      get: { summary: 'This document, rendered', tags: ['operations'], security: [], responses: { '200': { description: 'HTML' } } },
    },
    '/': {
      get: {
        summary: 'The web console (it asks for the key and calls /v1 with it)',
        tags: ['console'],
        security: [],
        responses: { '200': { description: 'HTML' } },
      },
    },
    '/console/{file}': {
      get: {
        summary: "The console's scripts and style sheet",
        tags: ['console'],
        security: [],
        requestParams: { path: z.object({ file: z.string().meta({ example: 'app.js' }) }) },
        responses: { '200': { description: 'JavaScript or CSS' }, '404': { description: 'no such file' } },
      },
    },
    // Listed after the rest, where the document has always had it.
    '/v1/batches/cleanup': {
      post: {
        summary: 'Run retention now for the tenant',
        tags: ['batches'],
        requestBody: { content: { 'application/json': { schema: http.CleanupBatches } } },
        responses: {
          '200': json(z.object({ deleted: z.number().int() }), 'how many finished batches were deleted'),
          ...invalid,
          ...common,
        },
      },
    },
  };
}
