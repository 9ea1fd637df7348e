/**
 * batchflow_db_statements_total: the database a process opens through openDatabase (what the API,
 * the worker and `npm start` use) counts each statement once on the process's /metrics, inside a
 * transaction too, and BEGIN/COMMIT not at all. PostgreSQL when DATABASE_URL is set, else PGlite
 * files in a temp dir.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config';
import { openDatabase } from '../../src/main/boot';
import { dbStatementsTotal } from '../../src/db/statement-metric';
import { createScraper } from '../../src/metrics/scrape';

const counted = async (): Promise<number> => (await dbStatementsTotal.get()).values.reduce((s, v) => s + v.value, 0);

test('every statement through openDatabase is counted once, and /metrics shows the counter', { timeout: 120_000 }, async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-statements-'));
  const { db, close } = await openDatabase(loadConfig({ DATABASE_URL: process.env.DATABASE_URL, BATCHFLOW_DATA_DIR: dataDir }));
  try {
    const before = await counted();
    await sql`select 1`.execute(db);
    await db.selectNoFrom((eb) => eb.val(2).as('two')).execute();
    await db.transaction().execute(async (tx) => {
      await sql`select 3`.execute(tx);
      await sql`select 4`.execute(tx);
    });
    assert.equal((await counted()) - before, 4, 'two statements, then two in a transaction (BEGIN and COMMIT not counted)');

    const text = await createScraper({}).text();
    assert.match(text, /^# TYPE batchflow_db_statements_total counter$/m);
    const shown = /^batchflow_db_statements_total (\S+)$/m.exec(text);
    assert.ok(shown, 'the counter has a sample on /metrics');
    assert.equal(Number(shown[1]), await counted());
  } finally {
    await close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
