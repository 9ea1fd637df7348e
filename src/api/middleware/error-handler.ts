import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { AppError } from '../errors';

/**
 * First in the chain: every failure leaves in the contract's one error shape. Anything that is not
 * an AppError is a bug or an outage; it is logged with the request id and answered as 500 without
 * internals.
 */
export const errorHandler =
  (log: Logger): Middleware =>
  async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new AppError(404, 'not_found', `no route for ${ctx.method} ${ctx.path}`);
      // The routers' allowedMethods answer a known path with another method 405 (and a method no
      // route knows, e.g. PROPFIND, 501) without a body: the same "no route", with the Allow header kept.
      if ((ctx.status === 405 || ctx.status === 501) && ctx.body === undefined) {
        const allow = ctx.response.get('Allow');
        throw new AppError(405, 'not_found', `no route for ${ctx.method} ${ctx.path}${allow ? ` (allowed: ${allow})` : ''}`);
      }
    } catch (err) {
      const requestId = ctx.state.requestId as string;
      const appError =
        err instanceof AppError ? err : new AppError(500, 'internal', 'internal error; the request id identifies it in the logs');
      if (!(err instanceof AppError)) log.error({ err, requestId, path: ctx.path }, 'unhandled error');
      ctx.status = appError.status;
      if (appError.retryAfter !== undefined) ctx.set('Retry-After', String(appError.retryAfter));
      ctx.body = {
        error: {
          code: appError.code,
          message: appError.message,
          ...(appError.details ? { details: appError.details } : {}),
          ...(appError.retryAfter !== undefined ? { retry_after: appError.retryAfter } : {}),
          request_id: requestId,
        },
      };
    }
  };
