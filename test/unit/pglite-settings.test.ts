/**
 * PGlite runs inside the embedded process, so its PostgreSQL settings are that process's memory
 * (issue 15): shared_buffers is set down from PostgreSQL's 128MB, on a new data dir and on one
 * opened again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { openDb, PGLITE_SETTINGS } from '../../src/db/connect';

test('PGlite opens with shared_buffers at 32MB, on a new data dir and when reopened', async () => {
  assert.ok(PGLITE_SETTINGS.includes('shared_buffers=32MB'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-pglite-settings-'));
  try {
    for (const round of ['new', 'reopened']) {
      const db = await openDb({ pgliteDir: path.join(dir, 'pglite') });
      try {
        const { rows } = await sql<{ shared_buffers: string }>`show shared_buffers`.execute(db.db);
        assert.equal(rows[0]?.shared_buffers, '32MB', round);
      } finally {
        await db.close();
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
