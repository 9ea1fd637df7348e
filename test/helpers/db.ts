/**
 * A fresh, migrated database for one test: its own schema on PostgreSQL when DATABASE_URL is set
 * (CI), otherwise an in-memory PGlite. Same migrations either way.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDb, type Db } from '../../src/db/connect';
import { migrateToLatest } from '../../src/db/migrate';

export interface TestDb extends Db {
  /**
   * For another process (a worker child): DATABASE_URL with its search_path on this test's schema.
   * Unset on PGlite, which serves one process only.
   */
  url?: string;
}

export async function testDb(): Promise<TestDb> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    const db = await openDb({ pgliteDir: 'memory://' });
    await migrateToLatest(db.db);
    return db;
  }
  return schemaDb(url, 't', 5);
}

/** A schema of its own on PostgreSQL at `url`, migrated; close() drops it. */
export async function schemaDb(url: string, prefix: string, poolSize: number): Promise<TestDb & { url: string }> {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  const db = await openDb({ url, schema, poolSize });
  await migrateToLatest(db.db, schema);
  return {
    ...db,
    url: withSearchPath(url, schema),
    close: async () => {
      await db.close();
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`drop schema if exists ${schema} cascade`);
      await admin.end();
    },
  };
}

/** `url` with a search_path, the way node-postgres reads it from a connection string. */
const withSearchPath = (url: string, schema: string): string =>
  `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
