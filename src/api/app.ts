/** The Koa app, built apart from listening so tests drive it in-process against real dependencies. */
import Koa from 'koa';
import type { Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/schema';
import type { BatchService } from '../batches/service';
import { errorHandler } from './middleware/error-handler';
import { requestId } from './middleware/request-id';
import { authenticate } from './middleware/auth';
import { batchRoutes } from './routes/batches';
import { healthRoutes } from './routes/health';
import { reviewRoutes } from './routes/review';

export interface AppDeps {
  db: Kysely<Database>;
  client: Client;
  batches: BatchService;
  log: Logger;
  maxBodyBytes: number;
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  app.proxy = true;
  app.use(requestId());
  app.use(async (ctx, next) => {
    const started = performance.now();
    await next();
    // Keys never reach the log: only method, path, status and timing.
    deps.log.info({ requestId: ctx.state.requestId, tenant: ctx.state.tenantId, method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started) }, 'request');
  });
  app.use(errorHandler(deps.log));

  const health = healthRoutes(deps);
  app.use(health.routes());

  const v1 = batchRoutes(deps.batches, { maxBodyBytes: deps.maxBodyBytes });
  app.use(async (ctx, next) => (ctx.path.startsWith('/v1/') || ctx.path === '/v1' ? authenticate(deps.db)(ctx, next) : next()));
  app.use(v1.routes());
  app.use(v1.allowedMethods({ throw: false }));
  const review = reviewRoutes(deps.batches, deps.db, { maxBodyBytes: deps.maxBodyBytes });
  app.use(review.routes());
  app.use(review.allowedMethods({ throw: false }));
  return app;
}
