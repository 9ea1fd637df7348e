/**
 * Migrating while other sessions drop schemas: Kysely's migrator lists every table of every schema
 * and resolves each by name, so a schema dropped mid-listing failed an unrelated migration with
 * "schema ... does not exist" (a CI run lost a test file's setup to it). The listing is looked at
 * again; anything else still fails at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { lookingAgainIfASchemaVanished, migrateToLatest } from '../../src/db/migrate';
import { openDb } from '../../src/db/connect';

const failing = (codes: string[]) => {
  let calls = 0;
  const run = async (): Promise<string> => {
    const code = codes[calls++];
    if (code) throw Object.assign(new Error(`failed with ${code}`), { code });
    return 'done';
  };
  return { run, calls: () => calls };
};

test('a vanished schema (3F000) or relation (42P01) is looked at again, up to ten looks', async () => {
  const twice = failing(['3F000', '42P01']);
  assert.equal(await lookingAgainIfASchemaVanished(twice.run), 'done');
  assert.equal(twice.calls(), 3);

  const always = failing(Array<string>(11).fill('3F000'));
  await assert.rejects(lookingAgainIfASchemaVanished(always.run), /3F000/);
  assert.equal(always.calls(), 10, 'gives up after ten looks');
});

test('any other failure is not retried', async () => {
  const other = failing(['42601']);
  await assert.rejects(lookingAgainIfASchemaVanished(other.run), /42601/);
  assert.equal(other.calls(), 1);
});

const url = process.env.DATABASE_URL;

test(
  'on PostgreSQL, schemas migrate while others are created and dropped beside them',
  { skip: url ? false : 'PostgreSQL only (DATABASE_URL): PGlite serves one session, nothing can drop beside it' },
  async () => {
    const churner = new pg.Client({ connectionString: url });
    await churner.connect();
    let churning = true;
    // Schemas with tables, dropped as soon as made: what parallel test files do to each other.
    const churn = (async () => {
      while (churning) {
        const name = `churn_${randomBytes(5).toString('hex')}`;
        await churner.query(`create schema ${name}; create table ${name}.t (id serial primary key, v text)`);
        await churner.query(`drop schema ${name} cascade`);
      }
    })();
    const made: string[] = [];
    try {
      for (let i = 0; i < 6; i++) {
        const schema = `race_${randomBytes(5).toString('hex')}`;
        made.push(schema);
        const db = await openDb({ url, schema, poolSize: 2 });
        try {
          const applied = await migrateToLatest(db.db, schema);
          assert.ok(applied.length > 0, `${schema}: every migration applied`);
        } finally {
          await db.close();
        }
      }
    } finally {
      churning = false;
      await churn;
      for (const schema of made) await churner.query(`drop schema if exists ${schema} cascade`);
      await churner.end();
    }
  },
);
