/**
 * A PostgreSQL cluster of this machine's own installation, made for one test and dropped after it,
 * so a test can restart PostgreSQL without touching the shared cluster on 5432. Needs root and the
 * Debian/Ubuntu postgresql-common tools (pg_createcluster, pg_ctlcluster, pg_dropcluster).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './faults';

const run = promisify(execFile);

export interface PgCluster {
  /** postgres://postgres@127.0.0.1:<port>/batchflow, trust auth on loopback. */
  url: string;
  version: string;
  name: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  drop(): Promise<void>;
}

async function tool(cmd: string, args: string[]): Promise<string> {
  try {
    return (await run(cmd, args, { timeout: 120_000 })).stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT')
      throw new Error(
        `${cmd} not found: this case needs PostgreSQL server tools (postgresql-common: pg_createcluster, pg_ctlcluster, pg_dropcluster) and root`,
        { cause: err },
      );
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

/** Creates, starts and opens a cluster named `name` (dropping a leftover of an earlier run first). */
export async function createCluster(name: string): Promise<PgCluster> {
  const listing = await tool('pg_lsclusters', ['--no-header']);
  const rows = listing
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.trim().split(/\s+/));
  const version = rows.map((r) => r[0]!).sort((a, b) => Number(b) - Number(a))[0];
  if (!version) throw new Error('pg_lsclusters lists no cluster, so no PostgreSQL version to create one with');
  if (rows.some((r) => r[1] === name)) await tool('pg_dropcluster', ['--stop', version, name]);
  const port = await freePort();
  // initdb's options after `--`: trust for local and loopback connections (a throwaway cluster).
  await tool('pg_createcluster', [version, name, '-p', String(port), '--', '--auth-local=trust', '--auth-host=trust']);
  const cluster: PgCluster = {
    url: `postgres://postgres@127.0.0.1:${port}/batchflow`,
    version,
    name,
    restart: async () => void (await tool('pg_ctlcluster', [version, name, 'restart'])),
    stop: async () => void (await tool('pg_ctlcluster', [version, name, 'stop', '-m', 'fast'])),
    start: async () => void (await tool('pg_ctlcluster', [version, name, 'start'])),
    drop: async () => void (await tool('pg_dropcluster', ['--stop', version, name])),
  };
  try {
    await tool('pg_ctlcluster', [version, name, 'start']);
    const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    await admin.connect();
    await admin.query('create database batchflow');
    await admin.end();
  } catch (err) {
    await cluster.drop().catch(() => {});
    throw err;
  }
  return cluster;
}
