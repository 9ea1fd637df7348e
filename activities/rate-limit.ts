/**
 * Outbound rate limits shared by every worker: a sliding-window log in the database, one row per
 * item let through. Temporal's own task-queue rate limit counts activities, not items, and holds
 * per task queue rather than per downstream, so the limit lives where every worker can see it.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../src/db/schema';

/** At most `max` items in any `windowMs`. */
export interface RateLimit {
  max: number;
  windowMs: number;
}

/**
 * A grant is taken just before its calls are sent, so the calls land a little later than the
 * grant. Keeping each grant in the log this much longer than the minute keeps the calls, as the
 * downstream counts them, within the limit too. It costs under 2% of the throughput.
 */
export const SEND_MARGIN_MS = 1_000;

/** The limit that `*_RATE_PER_MINUTE` configures. */
export const perMinute = (max: number): RateLimit => ({ max, windowMs: 60_000 + SEND_MARGIN_MS });

export interface Grant {
  /** Items the caller may process now, 0..wanted. */
  granted: number;
  /** When fewer than wanted were granted: how long until the oldest grant in the window ages out. */
  retryInMs: number;
}

/**
 * Takes up to `wanted` slots of `key`'s limit. One transaction: a transaction-scoped advisory
 * lock per key serializes the takers of every worker (a plain read-then-insert would let two
 * of them count the same free slots), then one statement prunes what aged out, counts the rest
 * and logs the grant. Time is the database's clock, read after the lock, so the log is ordered
 * the way grants happened whatever the workers' clocks say. (PGlite, one process, supports the
 * same lock.)
 */
export async function take(db: Kysely<Database>, key: string, limit: RateLimit, wanted: number): Promise<Grant> {
  if (wanted <= 0) return { granted: 0, retryInMs: 0 };
  return db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${`rate:${key}`}))`.execute(tx);
    // clock_timestamp() is volatile, so the `clock` CTE is evaluated once: every part of the
    // statement sees the same instant. `live` reads the snapshot from before the delete, hence
    // its own age filter.
    const { rows } = await sql<{ granted: number; retry_ms: number }>`
      with clock as (select clock_timestamp() as now, ${limit.windowMs}::float8 * interval '1 millisecond' as span),
      aged as (
        delete from rate_events where stage = ${key} and at <= (select now - span from clock)
      ),
      live as (
        select count(*)::int as used, min(at) as oldest
        from rate_events where stage = ${key} and at > (select now - span from clock)
      ),
      decision as (select least(${wanted}::int, greatest(0, ${limit.max}::int - used)) as n from live),
      logged as (
        insert into rate_events (stage, at)
        select ${key}::text, clock.now from clock, generate_series(1, (select n from decision))
      )
      select decision.n as granted,
             greatest(0, ceil(extract(epoch from (coalesce(live.oldest, clock.now) + clock.span - clock.now)) * 1000))::int as retry_ms
      from decision, live, clock
    `.execute(tx);
    const row = rows[0]!;
    return { granted: row.granted, retryInMs: row.granted < wanted ? row.retry_ms : 0 };
  });
}

export interface Waiting {
  /** Stops the wait; `acquire` then answers 0. */
  signal: AbortSignal;
  /** Called at least every WAIT_STEP_MS while waiting, so Temporal sees the activity alive. */
  heartbeat(): void;
  /** Told how long the next wait is, for logs. */
  onWait?(ms: number): void;
}

/** Heartbeat cadence while waiting: well inside any heartbeat timeout a stage would use. */
const WAIT_STEP_MS = 1_000;
/** Never ask again sooner than this, whatever the clocks' rounding says. */
const MIN_RETRY_MS = 50;

/**
 * Takes at least one and up to `wanted` slots, waiting (and heartbeating) as long as the window is
 * full. Answers 0 only when `waiting.signal` aborts first.
 */
export async function acquire(db: Kysely<Database>, key: string, limit: RateLimit, wanted: number, waiting: Waiting): Promise<number> {
  for (;;) {
    if (waiting.signal.aborted) return 0;
    const { granted, retryInMs } = await take(db, key, limit, wanted);
    if (granted > 0) return granted;
    const waitMs = Math.max(MIN_RETRY_MS, retryInMs);
    waiting.onWait?.(waitMs);
    for (let left = waitMs; left > 0 && !waiting.signal.aborted; left -= WAIT_STEP_MS) {
      await sleep(Math.min(left, WAIT_STEP_MS), waiting.signal);
      waiting.heartbeat();
    }
  }
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
