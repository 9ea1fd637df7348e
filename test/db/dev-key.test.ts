/**
 * A revoked key stays revoked (issue 13): the development key is stored again at every start, and
 * that used to bring a revoked one back. Only a new secret under the same id is a live key.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Db } from '../../src/db/connect';
import { ensureDevKey } from '../../src/auth/dev-key';
import { findKey, revokeKey } from '../../src/db/keys';
import { testDb } from '../helpers/db';

let db: Db;
let dataDir: string;
before(async () => {
  db = await testDb();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-devkey-'));
});
after(async () => {
  await db.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('a revoked development key stays revoked across restarts; a new one works', async () => {
  const key = await ensureDevKey(db.db, { dataDir });
  assert.ok(await findKey(db.db, key), 'the key works');
  assert.equal(await revokeKey(db.db, 'key_dev'), true);
  assert.equal(await findKey(db.db, key), undefined, 'revoked');

  // A restart stores the same key again (from the data dir's file): it stays revoked.
  assert.equal(await ensureDevKey(db.db, { dataDir }), key);
  assert.equal(await findKey(db.db, key), undefined, 'still revoked after a restart');
  // So does a fixed BATCHFLOW_DEV_API_KEY equal to it.
  await ensureDevKey(db.db, { dataDir, fixed: key });
  assert.equal(await findKey(db.db, key), undefined);

  // A new secret (the file deleted, or another fixed value) is a new key, live.
  fs.rmSync(path.join(dataDir, 'dev-api-key'));
  const fresh = await ensureDevKey(db.db, { dataDir });
  assert.notEqual(fresh, key);
  assert.ok(await findKey(db.db, fresh), 'the new key works');
  assert.equal(await findKey(db.db, key), undefined, 'the old one does not');
});
