/** Reads request bodies with the contract's answers for oversized, mistyped and broken input. */
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { malformedJson, payloadTooLarge, unsupportedMediaType, validationFailed } from '../errors';

/** Reads and parses a JSON body. An empty body reads as `{}` (e.g. a cancel without options). */
export async function readJson(ctx: Context, limit: number): Promise<unknown> {
  const length = Number(ctx.get('content-length') || '0');
  if (length > limit) throw payloadTooLarge(limit);
  const hasBody = length > 0 || ctx.get('transfer-encoding') !== '';
  if (!hasBody) return {};
  if (!ctx.is('application/json')) throw unsupportedMediaType('application/json');
  let raw: string;
  try {
    raw = await getRawBody(ctx.req, { limit, encoding: 'utf8' });
  } catch (err) {
    if ((err as { type?: string }).type === 'entity.too.large') throw payloadTooLarge(limit);
    // The client hung up (or the server's request timeout ended it) mid-body: nobody reads the
    // answer, but it is no server fault either.
    if ((err as { type?: string }).type === 'request.aborted')
      throw validationFailed([{ path: 'body', issue: 'the request ended before its body did' }]);
    throw err;
  }
  if (raw.trim() === '') return {};
  try {
    return JSON.parse(raw) as unknown;
  } catch (err) {
    throw malformedJson((err as Error).message);
  }
}
