import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { BatchflowError, unavailable, type ErrorDetail } from '../../errors';
import { isDatabaseUnavailable } from '../../db/connect';

/** The contract's bound on `details`: this many, then one entry saying how many were left out. */
const MAX_DETAILS = 100;

const LEFT_OUT = / more problems left out$/;

/** At most MAX_DETAILS, then the count of the rest (a list that was bounded where it was made passes as it is). */
function boundedDetails(details: ErrorDetail[]): ErrorDetail[] {
  if (details.length <= MAX_DETAILS) return details;
  if (details.length === MAX_DETAILS + 1 && LEFT_OUT.test(details[MAX_DETAILS]!.issue)) return details;
  return [...details.slice(0, MAX_DETAILS), { path: '', issue: `${details.length - MAX_DETAILS} more problems left out` }];
}

/**
 * The routes of the designs built on FastAPI (shared/seeds/001 documents, 003 part numbers): their
 * clients read an error from `detail`, so these errors carry it beside the contract's `error`.
 */
const FASTAPI_DESIGN_PATHS = /^\/(?:api\/v1\/)?batch\/jobs(?:\/|$)|^\/api\/(?:bulk-search|bulk-publish|batches)(?:\/|$)/;

/** FastAPI's `detail`: the message, or for a failed validation one entry per failing path. */
function fastApiDetail(e: BatchflowError): unknown {
  if (e.code !== 'validation_failed' || !e.details) return e.message;
  return boundedDetails(e.details).map((d) => ({
    loc: [
      'body',
      ...d.path
        .split('.')
        .filter(Boolean)
        .map((p) => (/^\d+$/.test(p) ? Number(p) : p)),
    ],
    msg: d.issue,
    type: 'value_error',
  }));
}

/**
 * First in the chain: every failure leaves in the contract's one error shape. Anything that is not
 * an BatchflowError is a bug or an outage; it is logged with the request id and answered as 500 without
 * internals.
 */
export const errorHandler =
  (log: Logger): Middleware =>
  async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined)
        throw new BatchflowError(404, 'not_found', `no route for ${ctx.method} ${ctx.path}`);
      // The routers' allowedMethods answer a known path with another method 405 (and a method no
      // route knows, e.g. PROPFIND, 501) without a body: the same "no route", with the Allow header kept.
      if ((ctx.status === 405 || ctx.status === 501) && ctx.body === undefined) {
        const allow = ctx.response.get('Allow');
        throw new BatchflowError(405, 'not_found', `no route for ${ctx.method} ${ctx.path}${allow ? ` (allowed: ${allow})` : ''}`);
      }
    } catch (err) {
      const requestId = ctx.state.requestId as string;
      const down = !(err instanceof BatchflowError) && isDatabaseUnavailable(err);
      const appError =
        err instanceof BatchflowError
          ? err
          : down
            ? unavailable('the database')
            : new BatchflowError(500, 'internal', 'internal error; the request id identifies it in the logs');
      if (down) log.warn({ err, requestId, path: ctx.path }, 'database unavailable');
      else if (!(err instanceof BatchflowError)) log.error({ err, requestId, path: ctx.path }, 'unhandled error');
      ctx.status = appError.status;
      if (appError.retryAfter !== undefined) ctx.set('Retry-After', String(appError.retryAfter));
      ctx.body = {
        error: {
          code: appError.code,
          message: appError.message,
          ...(appError.details ? { details: boundedDetails(appError.details) } : {}),
          ...(appError.retryAfter !== undefined ? { retry_after: appError.retryAfter } : {}),
          request_id: requestId,
        },
        ...(FASTAPI_DESIGN_PATHS.test(ctx.path) ? { detail: fastApiDetail(appError) } : {}),
      };
    }
  };
