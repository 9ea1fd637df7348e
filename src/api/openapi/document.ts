/**
 * The OpenAPI document, built from the same zod schemas that validate requests (src/contracts) and
 * the response schemas the API tests check answers against. Built once, on first request.
 */
import { createDocument } from 'zod-openapi';
import { compatPaths } from './compat';
import { liveAndExportPaths } from './live-and-exports';
import { v1Paths } from './v1';

let cached: ReturnType<typeof createDocument> | undefined;

export function openApiDocument(): ReturnType<typeof createDocument> {
  cached ??= createDocument({
    openapi: '3.1.0',
    info: {
      title: 'batchflow',
      version: '1',
      description:
        'Durable batch processing on Temporal. The contract in prose is docs/api.md; this document is generated from the schemas that validate requests. ' +
        'An optional field sent as null means the field left out (its default applies); such fields are marked nullable. ' +
        'Default rates per key: 60 submissions, 600 reads and 30 exports a minute (X-RateLimit-* on every answer).',
    },
    security: [{ apiKey: [] }, { bearer: [] }],
    components: {
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
        bearer: { type: 'http', scheme: 'bearer' },
      },
    },
    paths: { ...v1Paths(), ...liveAndExportPaths(), ...compatPaths() },
  });
  return cached;
}
