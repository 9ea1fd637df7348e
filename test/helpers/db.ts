/**
 * A fresh, migrated database for one test: its own schema on PostgreSQL when DATABASE_URL is set
 * (CI), otherwise an in-memory PGlite. Same migrations either way.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { Kysely } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import { openDb, PGLITE_SETTINGS, type Db } from '../../src/db/connect';
import type { Database } from '../../src/db/schema';
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
    // A new PGlite runs initdb, seconds of CPU; `npm test` made a migrated one once to start from.
    const template = process.env.TEST_PGLITE_TEMPLATE;
    const db = await openDb({ pgliteDir: 'memory://', pgliteLoad: template ? new Blob([fs.readFileSync(template)]) : undefined });
    // Nothing to do on the template, unless a migration was added since: then it runs here.
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

/**
 * For `npm test` without DATABASE_URL: an in-memory PGlite as openDb() makes it, migrated, dumped
 * as a data directory to `file` (TEST_PGLITE_TEMPLATE), which testDb() loads instead of running
 * initdb and the migrations again.
 */
export async function writePgliteTemplate(file: string): Promise<void> {
  const client = await PGlite.create('memory://', {
    startParams: [...PGlite.defaultStartParams, ...PGLITE_SETTINGS.flatMap((s) => ['-c', s])],
  });
  const db = new Kysely<Database>({ dialect: new PGliteDialect(client) });
  try {
    await migrateToLatest(db);
    const dump = await client.dumpDataDir('none');
    fs.writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
  } finally {
    await db.destroy();
  }
}
