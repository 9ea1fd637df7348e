/**
 * What the soak samples every few seconds, per batchflow process: RSS (/proc/<pid>/status VmRSS),
 * V8 heap used (its /metrics, prom-client's nodejs_heap_size_used_bytes), open file descriptors
 * (/proc/<pid>/fd) and its TCP connections (its socket descriptors matched against
 * /proc/<pid>/net/tcp{,6}); and, on PostgreSQL, the stack's server connections (pg_stat_activity).
 */
import fs from 'node:fs';
import type pg from 'pg';
import type { SoakProcess } from './soak-stack';

export interface Sample {
  /** Seconds since the load started. */
  t: number;
  /** `<process>.<metric>` → value; e.g. api.rss_mib, worker.fds, pg.connections. */
  values: Record<string, number>;
}

const MIB = 1024 * 1024;

function rssMib(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Descriptors, and the inodes of those that are sockets. */
function descriptors(pid: number): { fds: number; sockets: Set<string> } {
  const sockets = new Set<string>();
  const entries = fs.readdirSync(`/proc/${pid}/fd`);
  for (const fd of entries) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) sockets.add(m[1]!);
    } catch {
      // closed between readdir and readlink
    }
  }
  return { fds: entries.length, sockets };
}

/** TCP connections of the process: established (state 01) sockets that it holds a descriptor of. */
function tcpEstablished(pid: number, sockets: Set<string>): number {
  let n = 0;
  for (const file of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
      if (cols.length > 9 && cols[3] === '01' && sockets.has(cols[9]!)) n++;
    }
  }
  return n;
}

async function heapMib(metricsUrl: string): Promise<number> {
  try {
    const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) })).text();
    const m = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? ([0-9.e+]+)/m.exec(text);
    return m ? Number(m[1]) / MIB : NaN;
  } catch {
    return NaN;
  }
}

export async function takeSample(t: number, processes: SoakProcess[], pgPool?: pg.Pool, pgApplication?: string): Promise<Sample> {
  const values: Record<string, number> = {};
  for (const p of processes) {
    if (p.exited()) continue;
    try {
      const { fds, sockets } = descriptors(p.pid);
      values[`${p.name}.rss_mib`] = rssMib(p.pid);
      values[`${p.name}.fds`] = fds;
      values[`${p.name}.tcp`] = tcpEstablished(p.pid, sockets);
    } catch {
      // the process ended mid-sample; the run reports it
    }
    values[`${p.name}.heap_mib`] = await heapMib(p.metricsUrl);
  }
  if (pgPool && pgApplication) {
    try {
      const { rows } = await pgPool.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where application_name like $1`, [
        `${pgApplication}\\_%`,
      ]);
      values['pg.connections'] = rows[0]!.n;
    } catch {
      values['pg.connections'] = NaN;
    }
  }
  return { t, values };
}

/** The machine's 1, 5 and 15 minute load averages. */
export const loadAverage = (): string => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
