/** HTTP latency by route template, and the batch a request names, for the request log. */
import type { Context, Middleware } from 'koa';
import { httpDuration } from '../../metrics/registry';

/**
 * The route template the router matched (e.g. /v1/batches/:id), never the raw path: one series
 * per route, not per batch. Requests no route matched share one label.
 */
export function routeOf(ctx: Context): string {
  const matched = (ctx as Context & { _matchedRoute?: string | RegExp })._matchedRoute;
  return typeof matched === 'string' ? matched : 'unmatched';
}

/** The batch id a route names (`/v1/batches/:id…`, `/v1/review/:batch_id/…`), for log lines. */
export function batchIdOf(ctx: Context): string | undefined {
  const params = (ctx as Context & { params?: Record<string, string> }).params;
  if (!params) return undefined;
  if (params.batch_id) return params.batch_id;
  return routeOf(ctx).startsWith('/v1/batches/:id') ? params.id : undefined;
}

export const httpMetrics = (): Middleware => async (ctx, next) => {
  const stop = httpDuration.startTimer();
  try {
    await next();
  } finally {
    // Runs outside the error handler, so a thrown error's status is already set on ctx.
    stop({ method: ctx.method, route: routeOf(ctx), status: String(ctx.status) });
  }
};
