/**
 * Per-key request rates in three buckets (submissions, reads, exports), counted in the database so
 * that every API process shares one count per key.
 *
 * The store is rate-limiter-flexible's RateLimiterPostgres, fed through Kysely rather than a pg
 * Pool: its SQL is plain PostgreSQL, so the same limiter runs on PostgreSQL (one count across all
 * API processes) and on embedded PGlite (a single process by construction). The table comes from
 * migration 0005_rate_limits, so the library never issues DDL (`tableCreated: true`). A busy key's
 * requests are granted from leases of its budget (rate-leases.ts says what stays exact).
 */
import type { Context, Middleware } from 'koa';
import { CompiledQuery, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import { RateLimiterPostgres } from 'rate-limiter-flexible';
import type { Database } from '../../db/schema';
import type { Bucket, Rate } from '../../auth/limits';
import { rateLimited, unavailable } from '../../errors';
import type { AuthedKey } from './auth';
import { RateLeases } from './rate-leases';

const TABLE = 'rate_limits';

/** The routes that create a batch: the contract's POST /v1/batches and the compatibility adapters. */
const SUBMIT_PATHS = new Set(['/v1/batches', '/api/v1/classify/bulk', '/batch/jobs', '/api/bulk-search', '/api/bulk-publish']);

/**
 * Which bucket a request draws on. Control actions (cancel, pause, resume, PATCH, retry-failed,
 * cleanup, review decisions) are cheap signals, not new work, so they share the reads bucket:
 * limited, but never starved by the submissions (60 a minute by default, against 600 reads).
 */
export function bucketOf(method: string, path: string): Bucket {
  const p = path.length > 1 ? path.replace(/\/+$/, '') : path;
  if (method === 'POST' && SUBMIT_PATHS.has(p)) return 'submissions';
  if ((method === 'GET' || method === 'HEAD') && /^\/v1\/batches\/[^/]+\/export$/.test(p)) return 'exports';
  return 'reads';
}

/** The query() that RateLimiterPostgres calls, answered by Kysely (pg Pool or PGlite underneath). */
const storeClient = (db: Kysely<Database>) => ({
  async query(q: { text: string; values?: unknown[] }): Promise<{ rows: unknown[]; rowCount: number }> {
    const r = await db.executeQuery(CompiledQuery.raw(q.text, q.values ?? []));
    return { rows: r.rows, rowCount: r.rows.length || Number(r.numAffectedRows ?? 0) };
  },
});

export interface RateLimits {
  /**
   * Draws one request of `bucket` from the key: the headers to send, and Retry-After seconds when
   * the bucket is empty. Throws the contract's 503 when the store cannot be reached.
   */
  take(key: AuthedKey, bucket: Bucket, requestId?: string): Promise<{ headers: Record<string, string>; retryAfter?: number; rate: Rate }>;
  /** Gives back to the store what is left of this process's leases (at shutdown). */
  close(): Promise<void>;
}

export function createRateLimits(deps: { db: Kysely<Database>; log: Logger }): RateLimits {
  const client = storeClient(deps.db);
  // One limiter per distinct (bucket, rate): keys with the same limits share an instance; the
  // stored count is per `<bucket>:<key id>` whichever instance reads it. Each grants from leases
  // (rate-leases.ts), so that a busy key's reads skip the round trip.
  const counters = new Map<string, RateLeases>();
  const counterFor = (bucket: Bucket, rate: Rate): RateLeases => {
    const id = `${bucket}:${rate.points}:${rate.windowSeconds}`;
    let counter = counters.get(id);
    if (!counter) {
      const limiter = new RateLimiterPostgres({
        storeClient: client,
        storeType: 'client',
        tableName: TABLE,
        tableCreated: true,
        keyPrefix: bucket,
        points: rate.points,
        duration: rate.windowSeconds,
        // Expired rows are deleted every 5 minutes; one instance doing it is enough.
        clearExpiredByTimeout: counters.size === 0,
      });
      // penalty() adds whatever the limit (and takes away, given a negative count); the leases decide.
      const add = async (key: string, n: number) => {
        const res = await limiter.penalty(key, n);
        return { consumed: res.consumedPoints, msBeforeNext: res.msBeforeNext };
      };
      counter = new RateLeases(add, rate.points);
      counters.set(id, counter);
    }
    return counter;
  };

  return {
    async take(key, bucket, requestId) {
      const rate = key.limits[bucket];
      let grant;
      try {
        grant = await counterFor(bucket, rate).take(key.id);
      } catch (err) {
        deps.log.warn({ err, requestId }, 'rate limit store failed');
        throw unavailable('the database');
      }
      const headers = {
        'X-RateLimit-Limit': String(rate.points),
        'X-RateLimit-Remaining': String(grant.remaining),
        'X-RateLimit-Reset': String(Math.ceil(grant.resetAt / 1000)),
      };
      if (grant.granted) return { headers, rate };
      return { headers, rate, retryAfter: Math.max(1, Math.ceil((grant.resetAt - Date.now()) / 1000)) };
    },
    async close() {
      await Promise.all([...counters.values()].map((c) => c.close()));
    },
  };
}

export function rateLimit(limits: RateLimits): Middleware {
  return async (ctx: Context, next) => {
    const bucket = bucketOf(ctx.method, ctx.path);
    const taken = await limits.take(ctx.state.key as AuthedKey, bucket, ctx.state.requestId as string);
    ctx.set(taken.headers);
    if (taken.retryAfter !== undefined) throw rateLimited(bucket, taken.rate.points, taken.retryAfter);
    await next();
  };
}
