/** The OpenAPI paths of live progress (Server-Sent Events, WebSocket) and exports. */
import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import * as http from '../../contracts/http';
import { BatchId, common, err, invalid, notFound, sse } from './shared';

export function liveAndExportPaths(): ZodOpenApiPathsObject {
  return {
    '/v1/batches/{id}/events': {
      get: {
        summary: 'Live progress as Server-Sent Events',
        description:
          'Events `progress` (the batch body, at least every 2 s while anything changes), `item_failed` (the item), and one terminal event named after the final status, after which the stream closes. Send `Last-Event-ID` to resume without repeats.',
        tags: ['live'],
        requestParams: { path: BatchId, header: z.object({ 'Last-Event-ID': z.string().optional() }) },
        responses: {
          ...sse('the event stream'),
          '204': { description: 'Last-Event-ID names the terminal event: nothing more will come' },
          ...notFound,
          ...common,
        },
      },
    },
    '/v1/batches/{id}/ws': {
      get: {
        summary: 'The same events over a WebSocket, one JSON message each: {"type", "id", ...data}',
        description: 'The key goes in `X-Api-Key`/`Authorization` or, from a browser, in `?api_key=`. `?last_event_id=` resumes.',
        tags: ['live'],
        requestParams: { path: BatchId, query: z.object({ api_key: z.string().optional(), last_event_id: z.string().optional() }) },
        responses: {
          '101': { description: 'switching to the WebSocket protocol' },
          '426': err('not a WebSocket upgrade (`upgrade_required`)'),
          ...notFound,
          ...common,
        },
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
  };
}
