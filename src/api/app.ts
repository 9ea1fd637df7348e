/** The Koa app, built apart from listening so tests drive it in-process against real dependencies. */
import Koa from 'koa';
import type { Client } from '@temporalio/client';
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/schema';
import type { Batches } from '../batches';
import { errorHandler } from './middleware/error-handler';
import { requestId } from './middleware/request-id';
import { guardApi } from './middleware/auth';
import { cachedKeyLookup } from '../auth/key-cache';
import { createRateLimits } from './middleware/rate-limit';
import { LiveSlots } from './live/slots';
import type { KeyLimits } from '../auth/limits';
import type { Config } from '../config';
import { batchRoutes } from './routes/batches';
import { healthRoutes } from './routes/health';
import { docsRoutes } from './routes/docs';
import { consoleRoutes } from './routes/console';
import { reviewRoutes } from './routes/review';
import { exportRoutes } from './routes/export';
import { compatRoutes } from './routes/compat';
import { createLiveHub, type LiveHub } from './live/hub';
import { registerLive } from './live/ws';
import { liveRoutes } from './routes/live';
import { batchIdOf, httpMetrics } from './middleware/metrics';
import { metricsRoutes } from './routes/metrics';
import { createScraper } from '../metrics/scrape';

export interface AppDeps {
  db: Kysely<Database>;
  client: Client;
  batches: Batches;
  log: Logger;
  maxBodyBytes: number;
  /** Every key's default limits (config); a key's own overrides win. Default: the contract's. */
  limits?: KeyLimits;
  /** Live progress (SSE and WebSocket watchers); default: a hub of this app's own. */
  live?: LiveHub;
  /** API_KEY_CACHE_SECONDS in ms: how long a key found stays remembered (src/auth/key-cache.ts). Default 5 s. */
  keyCacheMs?: number;
  /** Temporal Core's Prometheus endpoint on loopback, appended to GET /metrics (src/metrics/temporal-core.ts). */
  coreMetricsUrl?: string;
}

/** The app's settings from the configuration: what `npm start`, `npm run api` and the test stack all pass. */
export const appSettingsOf = (config: Config): Pick<AppDeps, 'maxBodyBytes' | 'limits' | 'keyCacheMs'> => ({
  maxBodyBytes: config.maxBodyBytes,
  limits: config.limits,
  keyCacheMs: config.keyCacheMs,
});

export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  const live = deps.live ?? createLiveHub({ batches: deps.batches, log: deps.log });
  app.context.live = live;
  // One set of rate buckets and live slots for HTTP routes and WebSocket upgrades alike.
  const rates = createRateLimits({ db: deps.db, log: deps.log });
  const slots = new LiveSlots();
  app.context.liveSlots = slots;
  const findKey = cachedKeyLookup(deps.db, { ttlMs: deps.keyCacheMs });
  registerLive(app, { live, findKey, log: deps.log, rates, slots, limits: deps.limits });
  app.proxy = true;
  // A client that hangs up mid-stream (an export, an event stream) is not a server error.
  const HUNG_UP = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);
  app.on('error', (err: Error & { code?: string }, ctx?: { state?: { requestId?: string } }) => {
    if (err.code && HUNG_UP.has(err.code)) return;
    deps.log.error({ err, requestId: ctx?.state?.requestId }, 'unhandled error in a response');
  });
  app.use(requestId());
  app.use(httpMetrics());
  app.use(async (ctx, next) => {
    const started = performance.now();
    await next();
    // Keys never reach the log: only method, path, status and timing.
    deps.log.info(
      {
        requestId: ctx.state.requestId,
        tenant: ctx.state.tenantId,
        batchId: batchIdOf(ctx),
        method: ctx.method,
        path: ctx.path,
        status: ctx.status,
        ms: Math.round(performance.now() - started),
      },
      'request',
    );
  });
  app.use(errorHandler(deps.log));

  const health = healthRoutes({ pingDatabase: () => sql`select 1`.execute(deps.db), client: deps.client, log: deps.log });
  app.use(health.routes());
  app.use(metricsRoutes(createScraper({ db: deps.db, coreUrl: deps.coreMetricsUrl })).routes());
  app.use(docsRoutes().routes());
  app.use(consoleRoutes().routes());

  const v1 = batchRoutes(deps.batches, { maxBodyBytes: deps.maxBodyBytes });
  app.use(guardApi({ findKey, log: deps.log, limits: deps.limits, rates }));
  app.use(liveRoutes(live, deps.batches).routes());
  app.use(v1.routes());
  app.use(v1.allowedMethods({ throw: false }));
  const review = reviewRoutes(deps.batches, { maxBodyBytes: deps.maxBodyBytes });
  app.use(review.routes());
  app.use(review.allowedMethods({ throw: false }));
  app.use(exportRoutes(deps.batches, deps.log).routes());
  const compat = compatRoutes(deps.batches, { maxBodyBytes: deps.maxBodyBytes, live });
  app.use(compat.routes());
  app.use(compat.allowedMethods({ throw: false }));
  return app;
}
