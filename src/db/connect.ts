/**
 * Opens the database: PostgreSQL when DATABASE_URL is set, otherwise in-process PGlite under the
 * data dir. Both speak the same SQL and run the same migrations.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { PGlite as PGliteClass } from '@electric-sql/pglite';
import pg from 'pg';
import type { Database } from './schema';
import { listenPglite, listenPostgres, type ListenHandlers, type Listening } from './listen';

export interface Db {
  db: Kysely<Database>;
  kind: 'postgres' | 'pglite';
  /** LISTEN on `channel` (listen.ts): PGlite in-process, PostgreSQL on a connection of its own. */
  listen(channel: string, handlers: ListenHandlers): Promise<Listening>;
  close(): Promise<void>;
}

export interface DbOptions {
  /** postgres://… to use PostgreSQL. */
  url?: string;
  /** A PostgreSQL schema to work in (tests isolate themselves this way); created if missing. */
  schema?: string;
  /** Where PGlite keeps its files; 'memory://' for a throwaway database. */
  pgliteDir?: string;
  /** A PGlite data directory to start from (PGlite's dumpDataDir), instead of an empty cluster from initdb. */
  pgliteLoad?: Blob;
  /** Pool size for PostgreSQL. */
  poolSize?: number;
  /** How long to wait for a PostgreSQL connection (default 3 s): a request to a database that is down fails fast. */
  connectTimeoutMs?: number;
  /** PostgreSQL's statement_timeout (default 30 s): no statement holds a connection without end. */
  statementTimeoutMs?: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;

/**
 * SQLSTATE classes and socket errors that mean "the database cannot serve now" (down, restarting,
 * out of connections, a statement timed out), as opposed to a bug in a query: the contract's 503.
 */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  '57014',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '53400',
]);

export function isDatabaseUnavailable(err: unknown): boolean {
  for (
    let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 4;
    e = e.cause as typeof e, depth++
  ) {
    if (typeof e.code === 'string' && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('08'))) return true;
    // node-postgres says these in words only.
    if (
      typeof e.message === 'string' &&
      /^(timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error)/.test(e.message)
    )
      return true;
  }
  return false;
}

// pg returns int8 (count(*), sums) as strings to avoid precision loss; our counts fit in a JS number.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export async function openDb(options: DbOptions): Promise<Db> {
  if (options.url)
    return openPostgres(
      options.url,
      options.schema,
      options.poolSize ?? 10,
      options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
    );
  return openPglite(options.pgliteDir ?? 'memory://', options.pgliteLoad);
}

async function openPostgres(
  url: string,
  schema: string | undefined,
  max: number,
  connectTimeoutMs: number,
  statementTimeoutMs: number,
): Promise<Db> {
  if (schema) {
    if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name: ${schema}`);
    const admin = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs });
    await admin.connect();
    try {
      await admin.query(`create schema if not exists ${schema}`);
    } finally {
      await admin.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: connectTimeoutMs,
    // On the server, and on the client too (a server that stops answering never sends its timeout).
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + 5_000,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle client that loses its server emits 'error'; without a listener that would crash the process.
  pool.on('error', () => undefined);
  // The pool's listener is off a client while it is checked out (in a transaction, or between a
  // query and its release), and a server restart then crashed the process with an unhandled
  // 'error'. The statement in flight fails by itself (the caller retries) and the pool drops the
  // broken client when it is released.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    kind: 'postgres',
    listen: (channel, handlers) => listenPostgres(url, connectTimeoutMs, channel, handlers),
    close: () => db.destroy(),
  };
}

/**
 * PGlite's PostgreSQL settings beyond its own defaults. shared_buffers is PostgreSQL's default
 * 128MB otherwise, inside the WASM heap, which is the embedded process's memory: a 20,000-item
 * batch touched 150 MiB of a 184 MiB heap. At 32MB the heap stays at 128 MiB with 48 MiB touched
 * and the batch ran as fast (pages beyond it are read from the files, which the OS caches).
 */
export const PGLITE_SETTINGS = ['shared_buffers=32MB'];

/**
 * PGlite and its Kysely dialect, loaded when the embedded database is opened. They are development
 * dependencies (`npm start`, the tests): a production install (`npm ci --omit=dev`, the image)
 * runs on PostgreSQL and has neither, and a process there never loads them.
 */
function loadPglite(): { PGlite: typeof PGliteClass; PGliteDialect: typeof import('kysely-pglite-dialect').PGliteDialect } {
  try {
    /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when used; see above */
    return {
      PGlite: (require('@electric-sql/pglite') as typeof import('@electric-sql/pglite')).PGlite,
      PGliteDialect: (require('kysely-pglite-dialect') as typeof import('kysely-pglite-dialect')).PGliteDialect,
    };
    /* eslint-enable @typescript-eslint/no-require-imports */
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    throw new Error(
      'the embedded database (PGlite) is not installed here, as in a production install (npm ci --omit=dev): set DATABASE_URL to a PostgreSQL database',
      { cause: err },
    );
  }
}

async function openPglite(dir: string, loadDataDir?: Blob): Promise<Db> {
  let release = (): void => undefined;
  if (dir !== 'memory://') {
    fs.mkdirSync(dir, { recursive: true });
    release = lockDir(dir);
  }
  const { PGlite, PGliteDialect } = loadPglite();
  const client = await PGlite.create(dir, {
    startParams: [...PGlite.defaultStartParams, ...PGLITE_SETTINGS.flatMap((s) => ['-c', s])],
    ...(loadDataDir ? { loadDataDir } : {}),
  });
  const db = new Kysely<Database>({ dialect: new PGliteDialect(client) });
  await sql`select 1`.execute(db);
  return {
    db,
    kind: 'pglite',
    listen: (channel, handlers) => listenPglite(client, channel, handlers),
    close: async () => {
      await db.destroy();
      release();
    },
  };
}

/**
 * PGlite is one process's database: a second process opening the same files would corrupt them.
 * A pid file makes the second opener fail with a message that says what to do instead.
 */
function lockDir(dir: string): () => void {
  const lockFile = path.join(dir, '..', 'pglite.pid');
  for (;;) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(lockFile, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(fs.readFileSync(lockFile, 'utf8'));
      if (holder && holder !== process.pid && isAlive(holder)) {
        throw new Error(
          `the embedded database in ${dir} is open in process ${holder} (the running stack). ` +
            'PGlite serves one process only: stop that process first, or use PostgreSQL through DATABASE_URL.',
          { cause: err },
        );
      }
      fs.rmSync(lockFile, { force: true });
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
