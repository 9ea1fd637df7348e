/**
 * Opens the database: PostgreSQL when DATABASE_URL is set, otherwise in-process PGlite under the
 * data dir. Both speak the same SQL and run the same migrations.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Database } from './schema';

export interface Db {
  db: Kysely<Database>;
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

export interface DbOptions {
  /** postgres://… to use PostgreSQL. */
  url?: string;
  /** A PostgreSQL schema to work in (tests isolate themselves this way); created if missing. */
  schema?: string;
  /** Where PGlite keeps its files; 'memory://' for a throwaway database. */
  pgliteDir?: string;
  /** Pool size for PostgreSQL. */
  poolSize?: number;
}

// pg returns int8 (count(*), sums) as strings to avoid precision loss; our counts fit in a JS number.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export async function openDb(options: DbOptions): Promise<Db> {
  if (options.url) return openPostgres(options.url, options.schema, options.poolSize ?? 10);
  return openPglite(options.pgliteDir ?? 'memory://');
}

async function openPostgres(url: string, schema: string | undefined, max: number): Promise<Db> {
  if (schema) {
    if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name: ${schema}`);
    const admin = new pg.Client({ connectionString: url });
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
  return { db, kind: 'postgres', close: () => db.destroy() };
}

async function openPglite(dir: string): Promise<Db> {
  let release = (): void => undefined;
  if (dir !== 'memory://') {
    fs.mkdirSync(dir, { recursive: true });
    release = lockDir(dir);
  }
  const client = await PGlite.create(dir);
  const db = new Kysely<Database>({ dialect: new PGliteDialect(client) });
  await sql`select 1`.execute(db);
  return {
    db,
    kind: 'pglite',
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
