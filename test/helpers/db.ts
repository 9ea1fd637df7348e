/**
 * A fresh, migrated database for one test: its own schema on PostgreSQL when DATABASE_URL is set
 * (CI), otherwise an in-memory PGlite. Same migrations either way.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDb, type Db } from '../../src/db/connect';
import { migrateToLatest } from '../../src/db/migrate';

export async function testDb(): Promise<Db> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    const db = await openDb({ pgliteDir: 'memory://' });
    await migrateToLatest(db.db);
    return db;
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const db = await openDb({ url, schema, poolSize: 5 });
  await migrateToLatest(db.db, schema);
  return {
    ...db,
    close: async () => {
      await db.close();
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`drop schema if exists ${schema} cascade`);
      await admin.end();
    },
  };
}
