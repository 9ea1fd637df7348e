/** The bench's printed figures: one table for bare Temporal, BullMQ and batchflow, and the results file's marked blocks. */
import fs from 'node:fs';
import os from 'node:os';
import type { Served } from './served';

export type System = 'bare Temporal' | 'BullMQ' | 'batchflow';

/** One scenario's figures; only what was measured is set, and the table prints '–' for the rest. */
export interface Row {
  scenario: string;
  system: System;
  items: number;
  /** How the work was cut: "100 / 8" (items per chunk / chunks in flight), "defaults: …", or the peer's own. */
  chunking: string;
  wallMs: number;
  /** Wall time of the bare baseline with the same items and chunking, when one ran. */
  baselineMs?: number;
  progress?: { p50: number; p99: number; n: number; served?: Served };
  /** Peak RSS by process name (API, worker, dev server, node, redis…), bytes. */
  rss?: Record<string, number>;
  history?: { runs: number; events: number; bytes: number };
  /** How the peak RSS was read, when the stack says (VmHWM, or sampled). */
  peakFrom?: string;
  /** SQL statements over the scenario, by process. */
  statements?: Record<string, number>;
  ok: boolean;
  /** Why the scenario did not run, when that is not a failure (e.g. no redis-server here). */
  skipped?: string;
  problem?: string;
}

export function machine(dbKind: string, processes: boolean, loadAtStart: number[]): string[] {
  const osName =
    /PRETTY_NAME="([^"]+)"/.exec(fs.existsSync('/etc/os-release') ? fs.readFileSync('/etc/os-release', 'utf8') : '')?.[1] ??
    `${os.type()} ${os.release()}`;
  return [
    `- date: ${new Date().toISOString()}`,
    `- CPU: ${os.cpus()[0]?.model ?? 'unknown'}, ${os.cpus().length} cores; RAM ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- Node ${process.version}; ${osName} (kernel ${os.release()})`,
    `- database: ${dbKind}`,
    `- load average at start (1/5/15 min): ${loadAtStart.map((l) => l.toFixed(2)).join(' / ')}${loadAtStart[0]! > os.cpus().length ? ' (more than the cores: other work ran beside the bench, so the figures are low)' : ''}`,
    processes
      ? '- processes: the API (src/main/api.ts) and the worker (src/main/worker.ts) as two child processes, configured by the environment only, measured apart'
      : "- processes: API and worker in the bench's own process (PGlite serves one process), so their RSS is one combined figure",
  ];
}

const mib = (b: number): string => (b / 2 ** 20).toFixed(0);
export const ms = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? '–' : n.toFixed(0));

/** The share of reads the API itself served within 25 ms (its histogram), beside the reader's timing. */
const servedText = (s: Served | undefined): string =>
  s && s.n > 0
    ? `; ${((100 * s.within25) / s.n).toFixed(1)}% of ${s.n}` +
      (s.loopP99Ms !== undefined ? ` (its event loop's delay p99 ${ms(s.loopP99Ms)}, max ${ms(s.loopMaxMs ?? NaN)})` : '')
    : '';

export function table(rows: Row[]): string[] {
  const out = [
    '| scenario | system | items | chunk size / in flight | wall s | items/s | ms/item | × bare | progress read p50/p99 ms (n); API within 25 ms | peak RSS MiB | runs, largest history events / KiB | SQL statements/item API / worker | ok |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const ran = !r.skipped && !Number.isNaN(r.wallMs);
    const ratio = ran && r.baselineMs ? (r.wallMs / r.baselineMs).toFixed(2) : '–';
    const s = r.statements;
    out.push(
      `| ${r.scenario} | ${r.system} | ${r.items.toLocaleString('en')} | ${r.chunking} | ` +
        (ran
          ? `${(r.wallMs / 1000).toFixed(1)} | ${(r.items / (r.wallMs / 1000)).toFixed(0)} | ${(r.wallMs / r.items).toFixed(2)} | `
          : '– | – | – | ') +
        `${ratio} | ${r.progress ? `${ms(r.progress.p50)} / ${ms(r.progress.p99)} (${r.progress.n})${servedText(r.progress.served)}` : '–'} | ` +
        `${
          r.rss
            ? Object.entries(r.rss)
                .map(([name, bytes]) => `${name} ${mib(bytes)}`)
                .join(', ')
            : '–'
        } | ` +
        `${r.history ? `${r.history.runs}, ${r.history.events} / ${(r.history.bytes / 1024).toFixed(0)}` : '–'} | ` +
        `${s ? `${((s.API ?? 0) / r.items).toFixed(3)} / ${((s.worker ?? 0) / r.items).toFixed(3)}` : '–'} | ` +
        `${r.skipped ?? (r.ok ? 'yes' : `NO: ${r.problem}`)} |`,
    );
  }
  return out;
}

/**
 * Replaces the block between `<!-- name:start -->` and `<!-- name:end -->` in `file` (appending it
 * when missing), keeping everything around it: the notes, and the other blocks.
 */
export function writeBlock(file: string, name: string, generated: string[]): void {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const block = [start, ...generated, end].join('\n');
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmark results\n';
  const i = old.indexOf(start);
  const j = old.indexOf(end);
  const next = i >= 0 && j > i ? old.slice(0, i) + block + old.slice(j + end.length) : `${old.trimEnd()}\n\n${block}\n`;
  fs.writeFileSync(file, next);
}
