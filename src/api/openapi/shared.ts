/** What the paths of live progress, exports, cleanup and the compatibility routes share. */
import { z } from 'zod';
import type { ZodOpenApiOperationObject } from 'zod-openapi';
import * as compat from '../../contracts/compat';
import * as res from '../../contracts/responses';

export type Responses = ZodOpenApiOperationObject['responses'];
export const BatchId = z.object({ id: z.string().meta({ description: 'the batch id' }) });
export const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });
export const err = (description: string) => json(res.ErrorBody, description);
export const common: Responses = {
  '401': err('`unauthorized`'),
  '429': err('`rate_limited`, with `Retry-After`'),
  '503': err('`unavailable`'),
};
export const notFound: Responses = { '404': err('unknown batch or another tenant’s (`not_found`)') };
export const invalid: Responses = { '400': err('`validation_failed` with every failing path in `details`, or `malformed_json`') };

/** FastAPI's `detail` beside the contract's `error`: what the document and part-number designs' clients read. */
export const fastApiErr = (description: string) => json(res.ErrorBody.extend(compat.FastApiDetail.shape), description);

export const sse = (description: string): Responses => ({
  '200': { description, content: { 'text/event-stream': { schema: { type: 'string' } } } },
});
