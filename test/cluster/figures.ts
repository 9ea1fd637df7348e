/**
 * The cluster test's figures (bench/results.md, the `cluster` block): one batch on the dev server
 * and on the cluster, and what each node's Prometheus endpoint counted over the cluster's run.
 */
import os from 'node:os';

export interface RunFigures {
  where: string;
  items: number;
  seconds: number;
  history: { runs: number; events: number };
  /** Each node's metric totals (metricTotals) before and after the run: the cluster only. */
  nodes?: Array<{ before: Map<string, number>; after: Map<string, number> }>;
}

/**
 * Prometheus text to one total per metric name, summed over its label sets (a histogram's
 * `_sum`, `_count` and `_bucket` series are names of their own).
 */
export function metricTotals(text: string): Map<string, number> {
  const totals = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const name = line.slice(0, line.search(/[{ ]/));
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!name || !Number.isFinite(value)) continue;
    totals.set(name, (totals.get(name) ?? 0) + value);
  }
  return totals;
}

/** What each node did over the run, from its own counters (deltas) and gauges (at the end). */
const NODE_ROWS: Array<{ label: string; value: (b: Map<string, number>, a: Map<string, number>) => string }> = [
  { label: 'history shards owned (at the end)', value: (_, a) => fmt(a.get('numshards_gauge')) },
  { label: 'gRPC requests served (all services)', value: (b, a) => fmt(delta(b, a, 'service_requests')) },
  { label: 'persistence requests', value: (b, a) => fmt(delta(b, a, 'persistence_requests')) },
  {
    label: 'persistence latency, mean ms',
    value: (b, a) => {
      const n = delta(b, a, 'persistence_latency_count');
      return n ? ((delta(b, a, 'persistence_latency_sum') / n) * 1000).toFixed(2) : '–';
    },
  },
  { label: 'persistence errors', value: (b, a) => fmt(delta(b, a, 'persistence_error_with_type')) },
  { label: 'tasks handed to pollers (matching)', value: (b, a) => fmt(delta(b, a, 'poll_success') + delta(b, a, 'poll_success_sync')) },
];

const delta = (b: Map<string, number>, a: Map<string, number>, name: string): number => (a.get(name) ?? 0) - (b.get(name) ?? 0);
const fmt = (n: number | undefined): string => (n === undefined ? '–' : Math.round(n).toLocaleString('en'));

export function figuresTable(runs: RunFigures[], at: Date): string[] {
  const out = [
    `Measured ${at.toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run test:cluster\` on ${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}).`,
    'Both runs: PostgreSQL for batchflow, 2 API processes, 3 workers, the shipped defaults; one batch of catalogue items to a loopback publish target.',
    '',
    '| Temporal | items | seconds | items/s | workflow runs / events |',
    '|---|---|---|---|---|',
    ...runs.map(
      (r) =>
        `| ${r.where} | ${r.items.toLocaleString('en')} | ${r.seconds.toFixed(1)} | ${Math.round(r.items / r.seconds).toLocaleString('en')} | ${r.history.runs} / ${r.history.events.toLocaleString('en')} |`,
    ),
  ];
  const cluster = runs.find((r) => r.nodes);
  if (cluster?.nodes) {
    out.push(
      '',
      `Each node's own \`/metrics\` over the cluster's run (${cluster.items.toLocaleString('en')} items):`,
      '',
      `| metric | ${cluster.nodes.map((_, i) => `node ${i + 1}`).join(' | ')} |`,
      `|---|${cluster.nodes.map(() => '---').join('|')}|`,
      ...NODE_ROWS.map((row) => `| ${row.label} | ${cluster.nodes!.map((n) => row.value(n.before, n.after)).join(' | ')} |`),
    );
  }
  return out;
}
