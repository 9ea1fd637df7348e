/**
 * What one API key may do: items per batch, active batches at once, and three request buckets.
 * The operator's defaults come from the environment; a key's `limits` (jsonb) overrides any of
 * them. The stored form is flat numbers so that `api_keys.limits` stays a `Record<string, number>`:
 * `{"max_items": 1000, "submissions": 5, "submissions_window_s": 60}`.
 *
 * The defaults were per hour until the contract moved them to per minute. A stored count without its
 * `<bucket>_window_s` was written then (the keys command always stores both), so it keeps its hour:
 * `{"reads": 5000}` stays 5,000 an hour, not 5,000 a minute.
 */
import { MAX_ITEMS } from '../contracts/http';

/** `points` requests per `windowSeconds`, in fixed windows that start with a window's first request. */
export interface Rate {
  points: number;
  windowSeconds: number;
}

export const BUCKETS = ['submissions', 'reads', 'exports'] as const;
export type Bucket = (typeof BUCKETS)[number];

export interface KeyLimits {
  maxItems: number;
  maxActiveBatches: number;
  submissions: Rate;
  reads: Rate;
  exports: Rate;
}

const MINUTE = 60;
const HOUR = 3_600;

/** The window of a stored count that has no `<bucket>_window_s`: the hour every window was when it was written. */
export const LEGACY_WINDOW_SECONDS = HOUR;

/** The contract's defaults (docs/api.md, "Limits"): 60 submissions, 600 reads, 30 exports a minute. */
export const CONTRACT_LIMITS: KeyLimits = {
  maxItems: MAX_ITEMS,
  maxActiveBatches: 3,
  submissions: { points: 60, windowSeconds: MINUTE },
  reads: { points: 600, windowSeconds: MINUTE },
  exports: { points: 30, windowSeconds: MINUTE },
};

const positiveInt = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined);

/**
 * A key's limits in force: its stored overrides over the operator's defaults. Values that are not
 * positive integers are ignored (the defaults hold), so a hand-edited row cannot lift a limit by
 * accident; `max_items` never exceeds the schema's ceiling. A count stored without its window keeps
 * the hour it was written for (LEGACY_WINDOW_SECONDS); a window stored alone takes the default count.
 */
export function resolveLimits(defaults: KeyLimits, stored: Record<string, unknown> | null | undefined): KeyLimits {
  const s = stored ?? {};
  const rate = (bucket: Bucket): Rate => {
    const points = positiveInt(s[bucket]);
    const window = positiveInt(s[`${bucket}_window_s`]);
    return {
      points: points ?? defaults[bucket].points,
      windowSeconds: window ?? (points !== undefined ? LEGACY_WINDOW_SECONDS : defaults[bucket].windowSeconds),
    };
  };
  return {
    maxItems: Math.min(positiveInt(s.max_items) ?? defaults.maxItems, MAX_ITEMS),
    maxActiveBatches: positiveInt(s.max_active_batches) ?? defaults.maxActiveBatches,
    submissions: rate('submissions'),
    reads: rate('reads'),
    exports: rate('exports'),
  };
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: MINUTE, h: HOUR, d: 24 * HOUR };

/**
 * Parses the keys command's `--rate submissions=120/m,reads=3/10s` into stored overrides.
 * A window is `[N]s|m|h|d`; a bare unit means one of it.
 */
export function parseRates(spec: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^(\w+)=(\d+)\/(\d*)([smhd])$/.exec(part);
    if (!m) throw new Error(`--rate: "${part}" is not BUCKET=N/WINDOW (e.g. reads=1000/m, reads=3/10s)`);
    const [, bucket, points, count, unit] = m;
    if (!(BUCKETS as readonly string[]).includes(bucket!))
      throw new Error(`--rate: unknown bucket "${bucket}" (one of ${BUCKETS.join(', ')})`);
    const window = (count ? Number(count) : 1) * UNIT_SECONDS[unit!]!;
    if (Number(points) < 1 || window < 1) throw new Error(`--rate: "${part}" must allow at least 1 request in at least 1 second`);
    out[bucket!] = Number(points);
    out[`${bucket}_window_s`] = window;
  }
  return out;
}

/** `3/10s`, `60/m`: the short form that the keys command prints. */
export function formatRate(rate: Rate): string {
  for (const [unit, seconds] of [
    ['d', 24 * HOUR],
    ['h', HOUR],
    ['m', MINUTE],
    ['s', 1],
  ] as const) {
    if (rate.windowSeconds % seconds === 0) {
      const n = rate.windowSeconds / seconds;
      return `${rate.points}/${n === 1 ? '' : n}${unit}`;
    }
  }
  return `${rate.points}/${rate.windowSeconds}s`;
}

/** The stored overrides in the command's words, e.g. `max_items=100 reads=3/10s`; empty when none. */
export function describeOverrides(stored: Record<string, unknown>, defaults: KeyLimits = CONTRACT_LIMITS): string {
  const parts: string[] = [];
  if (positiveInt(stored.max_items)) parts.push(`max_items=${stored.max_items as number}`);
  if (positiveInt(stored.max_active_batches)) parts.push(`max_active_batches=${stored.max_active_batches as number}`);
  const resolved = resolveLimits(defaults, stored);
  for (const bucket of BUCKETS) {
    if (positiveInt(stored[bucket]) || positiveInt(stored[`${bucket}_window_s`])) parts.push(`${bucket}=${formatRate(resolved[bucket])}`);
  }
  return parts.join(' ');
}
