/** Small measuring helpers: percentiles, peak RSS sampling, history sizes of every run of a workflow. */
import fs from 'node:fs';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The Temporal dev server: the `temporal` child of this process, for its RSS. */
function devServerPid(): number | undefined {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === process.pid && stat.includes('(temporal')) return Number(entry);
    } catch {
      // the process ended between readdir and read
    }
  }
  return undefined;
}

export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** VmHWM (peak RSS since start, or since the last resetPeak) and VmRSS of `pid`, bytes (0 when it has ended). */
export function peakOf(pid: number): { hwm: number; rss: number } {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
  } catch {
    return { hwm: 0, rss: 0 };
  }
}

/** Writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS (Linux 4.0+); false if the kernel refuses. */
export function resetPeak(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** The direct children of `pid`, with their command names. */
export function childrenOf(pid: number): Array<{ pid: number; comm: string }> {
  const found: Array<{ pid: number; comm: string }> = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) found.push({ pid: Number(entry), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) });
    } catch {
      // the process ended between readdir and read
    }
  }
  return found;
}

/** The dev server's RSS now (0 when it is not found). */
export function devServerRss(): () => number {
  const pid = devServerPid();
  return () => (pid ? rssOf(pid) : 0);
}

/** Samples each reader every 100 ms; answers the peaks, by name. */
export function samplePeaks<K extends string>(readers: Record<K, () => number>): { stop(): Record<K, number> } {
  const names = Object.keys(readers) as K[];
  const peaks = Object.fromEntries(names.map((n) => [n, readers[n]()])) as Record<K, number>;
  const sample = (): void => {
    for (const n of names) peaks[n] = Math.max(peaks[n], readers[n]());
  };
  const timer = setInterval(sample, 100);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return peaks;
    },
  };
}

export interface RunHistory {
  runId: string;
  events: number;
  bytes: number;
}

/**
 * Every run of `workflowId`, newest first: fetchHistory of the latest run, then each run's
 * predecessor (continuedExecutionRunId) until the first. Bytes are the history's protobuf encoding.
 */
export async function runHistories(client: Client, workflowId: string): Promise<RunHistory[]> {
  const runs: RunHistory[] = [];
  let runId: string | undefined = (await client.workflow.getHandle(workflowId).describe()).runId;
  while (runId) {
    const history: temporal.api.history.v1.IHistory = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events: temporal.api.history.v1.IHistoryEvent[] = history.events ?? [];
    runs.push({ runId, events: events.length, bytes: temporal.api.history.v1.History.encode(history).finish().length });
    runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? undefined;
    if (runId === '') runId = undefined;
  }
  return runs;
}
