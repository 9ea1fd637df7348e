/**
 * The soak's verdicts and tables: latency percentiles per route family, answers by status class,
 * and for each sampled series whether it is flat: the first third after the warm-up against the
 * last third (each by its median, the heap by its floor), with a least-squares slope beside it.
 */
import { percentile } from './measure';
import { FAMILIES, type Recorder } from './soak-clients';
import type { Sample } from './soak-sample';

/** How much a series may grow from the first third to the last and still be called flat. */
interface Tolerance {
  relative: number;
  absolute: number;
  /**
   * What stands for a third: its median, or for the V8 heap its floor (minimum). Heap used is a
   * sawtooth between collections (100–300 MiB in the worker), so a median depends on where the
   * samples fall; the floor is what survives a major collection, and that is what a leak raises.
   */
  statistic: 'median' | 'floor';
}
/**
 * RSS and heap move with GC timing and with how many batches happen to be in flight; descriptors
 * and connections with how many streams are open at the moment of the sample. Growth beyond both
 * the relative and the absolute allowance is what a leak looks like over ten minutes.
 */
const TOLERANCES: Record<string, Tolerance> = {
  rss_mib: { relative: 0.1, absolute: 20, statistic: 'median' },
  heap_mib: { relative: 0.15, absolute: 10, statistic: 'floor' },
  fds: { relative: 0.1, absolute: 5, statistic: 'median' },
  tcp: { relative: 0.1, absolute: 5, statistic: 'median' },
  connections: { relative: 0, absolute: 2, statistic: 'median' },
};

export interface Trend {
  series: string;
  statistic: Tolerance['statistic'];
  samples: number;
  first: number;
  last: number;
  growth: number;
  slopePerMinute: number;
  allowed: number;
  flat: boolean;
}

const median = (xs: number[]): number => percentile(xs, 50);

function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

/** Samples taken at or after `warmupS`, split in thirds by time. */
export function trends(samples: Sample[], warmupS: number): Trend[] {
  const steady = samples.filter((s) => s.t >= warmupS);
  const series = [...new Set(steady.flatMap((s) => Object.keys(s.values)))].sort();
  return series.map((name) => {
    const points = steady.map((s) => [s.t, s.values[name]] as [number, number]).filter(([, v]) => Number.isFinite(v));
    const third = Math.max(1, Math.floor(points.length / 3));
    const tolerance = TOLERANCES[name.split('.').pop()!] ?? { relative: 0.1, absolute: 0, statistic: 'median' };
    const of = (xs: number[]): number => (tolerance.statistic === 'floor' ? Math.min(...xs) : median(xs));
    const first = of(points.slice(0, third).map(([, v]) => v));
    const last = of(points.slice(-third).map(([, v]) => v));
    const allowed = Math.max(tolerance.relative * first, tolerance.absolute);
    const growth = last - first;
    return {
      series: name,
      statistic: tolerance.statistic,
      samples: points.length,
      first,
      last,
      growth,
      slopePerMinute: slope(points) * 60,
      allowed,
      flat: points.length >= 3 && growth <= allowed,
    };
  });
}

export const toleranceText = (): string =>
  Object.entries(TOLERANCES)
    .map(
      ([k, t]) =>
        `${k} (${t.statistic}): +${Math.round(t.relative * 100)}% or +${t.absolute}${k.endsWith('mib') ? ' MiB' : ''}, whichever is larger`,
    )
    .join('; ');

const fmt = (v: number, digits = 1): string => (Number.isFinite(v) ? v.toFixed(digits) : '–');

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function latencyTable(rec: Recorder): string {
  const rows = FAMILIES.filter((f) => rec.latencies[f].length > 0).map((f) => {
    const xs = rec.latencies[f];
    return [f, String(xs.length), fmt(percentile(xs, 50)), fmt(percentile(xs, 99)), fmt(Math.max(...xs))];
  });
  return table(['route family', 'requests', 'p50 ms', 'p99 ms', 'max ms'], rows);
}

/** Answers by status class per family; 101 is a WebSocket upgrade, 0 a network error or timeout. */
export function statusTable(rec: Recorder): { text: string; total: number; by: Record<string, number> } {
  const classes = ['1xx', '2xx', '3xx', '4xx', '5xx', 'network'];
  const by: Record<string, number> = Object.fromEntries(classes.map((c) => [c, 0]));
  const perFamily = new Map<string, Record<string, number>>();
  for (const [k, n] of rec.statuses) {
    const [family, statusText] = k.split(' ') as [string, string];
    const status = Number(statusText);
    const cls = status === 0 ? 'network' : `${Math.floor(status / 100)}xx`;
    by[cls] = (by[cls] ?? 0) + n;
    const row = perFamily.get(family) ?? Object.fromEntries(classes.map((c) => [c, 0]));
    row[cls] = (row[cls] ?? 0) + n;
    perFamily.set(family, row);
  }
  const rows = FAMILIES.filter((f) => perFamily.has(f)).map((f) => [f, ...classes.map((c) => String(perFamily.get(f)![c] ?? 0))]);
  rows.push(['**all**', ...classes.map((c) => `**${by[c]}**`)]);
  const total = Object.values(by).reduce((a, b) => a + b, 0);
  return { text: table(['route family', ...classes], rows), total, by };
}

export function trendTable(ts: Trend[]): string {
  return table(
    ['series', 'samples', 'statistic', 'first third', 'last third', 'growth', 'slope /min', 'allowed', 'verdict'],
    ts.map((t) => [
      t.series,
      String(t.samples),
      t.statistic,
      fmt(t.first),
      fmt(t.last),
      fmt(t.growth),
      fmt(t.slopePerMinute, 2),
      fmt(t.allowed),
      t.samples < 3 ? 'too few samples' : t.flat ? 'flat' : '**GROWS**',
    ]),
  );
}

export function samplesTable(samples: Sample[]): string {
  const series = [...new Set(samples.flatMap((s) => Object.keys(s.values)))].sort();
  return table(
    ['t (s)', ...series],
    samples.map((s) => [String(Math.round(s.t)), ...series.map((k) => fmt(s.values[k] ?? NaN))]),
  );
}
