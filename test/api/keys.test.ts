/**
 * `npm run keys` end to end: the command mints, lists and revokes keys in the database the API
 * reads, a minted key authenticates with its limits, a revoked one answers 401, and the clear key
 * or its hash never appears after creation. Runs on DATABASE_URL (a schema of its own) when set,
 * otherwise on an embedded PGlite data dir, where it also checks the refusal while the
 * database is held by another process.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import pino from 'pino';
import { createApp } from '../../src/api/app';
import { createBatches } from '../../src/batches';
import { tenantUuid } from '../../src/batches/ids';
import { openDb, type Db } from '../../src/db/connect';
import { hashKey } from '../../src/db/keys';
import { SHIPPED } from '../helpers/stack';
import { testDb } from '../helpers/db';
import { expectError } from '../helpers/errors';
import { connectTemporal, uniqueTaskQueue } from '../helpers/temporal';

const ROOT = path.join(__dirname, '..', '..');
const onPostgres = Boolean(process.env.DATABASE_URL);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let env: NodeJS.ProcessEnv;
let dataDir: string | undefined;
let pgDb: Db | undefined;

/**
 * Runs the keys command the way an operator does (`npm run keys -- …`), or straight through tsx's
 * CommonJS hook (as the image loads entries: no ESM loader thread in each of these ~20 processes).
 */
function keys(args: string[], opts: { viaNpm?: boolean } = {}): Promise<Run> {
  const [cmd, argv] = opts.viaNpm
    ? ['npm', ['run', '--silent', 'keys', '--', ...args]]
    : [process.execPath, ['--require', 'tsx/cjs', 'src/main/keys.ts', ...args]];
  const child = spawn(cmd as string, argv as string[], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const field = (out: string, name: string): string => {
  const m = new RegExp(`^${name}:\\s+(\\S+)$`, 'm').exec(out);
  assert.ok(m, `"${name}:" in\n${out}`);
  return m[1]!;
};

before(async () => {
  // Only what the command needs: no inherited DATABASE_URL or data dir unless this test sets them.
  env = { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'silent' };
  if (onPostgres) {
    const db = await testDb();
    pgDb = db;
    env.DATABASE_URL = db.url;
  } else {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-keys-'));
    env.BATCHFLOW_DATA_DIR = dataDir;
  }
});
after(async () => {
  await pgDb?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('npm run keys', () => {
  test('create, revoke and list; the created key authenticates with its limits, the revoked one is 401', async () => {
    const tenant = `acme-${randomBytes(3).toString('hex')}`;
    const created = await keys(
      ['create', '--tenant', tenant, '--label', 'ci runner', '--max-active-batches', '2', '--rate', 'reads=50/h,exports=5/30m'],
      { viaNpm: true },
    );
    assert.equal(created.code, 0, created.stderr);
    const idA = field(created.stdout, 'id');
    const keyA = field(created.stdout, 'key');
    assert.match(idA, /^key_[0-9a-f]{16}$/);
    assert.match(keyA, /^bf_[A-Za-z0-9_-]{43}$/);
    assert.equal(field(created.stdout, 'tenant'), tenant);
    assert.equal(field(created.stdout, 'tenant_uuid'), tenantUuid(tenant), "the tenant's UUID, for /batch/jobs");
    assert.match(created.stdout, /limits: max_active_batches=2 reads=50\/h exports=5\/30m/);

    const second = await keys(['create', '--tenant', tenant]);
    assert.equal(second.code, 0, second.stderr);
    const idB = field(second.stdout, 'id');
    const keyB = field(second.stdout, 'key');
    assert.notEqual(keyA, keyB);

    const revoked = await keys(['revoke', idB]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`revoked ${idB}`));

    const listed = await keys(['list', '--tenant', tenant]);
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trim().split('\n');
    assert.match(lines[0]!, /^ID\s+TENANT\s+LABEL\s+LIMITS\s+CREATED\s+REVOKED$/);
    const rowA = lines.find((l) => l.startsWith(idA));
    const rowB = lines.find((l) => l.startsWith(idB));
    assert.ok(rowA && rowB, listed.stdout);
    assert.match(
      rowA,
      new RegExp(`${tenant}\\s+ci runner\\s+max_active_batches=2 reads=50/h exports=5/30m\\s+\\d{4}-\\d\\d-\\d\\dT[\\d:]+Z\\s+-$`),
    );
    assert.match(rowB, /defaults\s+\S+Z\s+\d{4}-\d\d-\d\dT[\d:]+Z$/);
    for (const secret of [keyA, keyB, hashKey(keyA), hashKey(keyB)]) {
      assert.ok(!listed.stdout.includes(secret) && !listed.stderr.includes(secret), 'list never prints a key or its hash');
    }

    // The API over the same database: the command's key works, with the limits it was given.
    const db = onPostgres ? pgDb! : await openDb({ pgliteDir: path.join(dataDir!, 'pglite') });
    const temporal = await connectTemporal();
    const log = pino({ level: 'silent' });
    const batches = createBatches({
      db: db.db,
      client: temporal.client,
      log,
      taskQueue: uniqueTaskQueue(),
      namespace: temporal.namespace,
      uiUrl: 'http://localhost:8233',
      retry: SHIPPED.retry,
    });
    const server: Server = createApp({ db: db.db, client: temporal.client, batches, log, maxBodyBytes: 1024 * 1024 }).listen(
      0,
      '127.0.0.1',
    );
    await new Promise<void>((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const ok = await fetch(`${base}/v1/batches`, { headers: { 'x-api-key': keyA } });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('x-ratelimit-limit'), '50', 'the key carries the rate it was created with');
      assert.equal((await fetch(`${base}/v1/batches`, { headers: { authorization: `Bearer ${keyA}` } })).status, 200);
      await expectError(await fetch(`${base}/v1/batches`, { headers: { 'x-api-key': keyB } }), 401, 'unauthorized');

      if (!onPostgres) {
        // The database is open here, as `npm start` would hold it: the command refuses and says what to do.
        const refused = await keys(['list']);
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /npm start/);
        assert.match(refused.stderr, /DATABASE_URL/);
        assert.equal((await fetch(`${base}/v1/batches`, { headers: { 'x-api-key': keyA } })).status, 200, 'the holder is unharmed');
      }
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await temporal.close();
      if (!onPostgres) await db.close();
    }
  });

  test('webhook secrets: each shown once; a rotation keeps the old one signing until --retire; list shows ids, never a secret', async () => {
    const tenant = `hooks-${randomBytes(3).toString('hex')}`;
    const created = await keys(['create', '--tenant', tenant]);
    assert.equal(created.code, 0, created.stderr);
    const firstId = field(created.stdout, 'webhook_secret_id');
    const first = field(created.stdout, 'webhook_secret');
    assert.match(first, /^whsec_[A-Za-z0-9_-]{43}$/, 'a new tenant gets its own signing secret with its first key');
    assert.match(created.stderr, /shown this once/);

    const again = await keys(['create', '--tenant', tenant]);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /webhook_secret/, 'a second key does not show (or change) the secret');

    const rotated = await keys(['webhook-secret', '--tenant', tenant, '--overlap', '2h'], { viaNpm: true });
    assert.equal(rotated.code, 0, rotated.stderr);
    const secondId = field(rotated.stdout, 'webhook_secret_id');
    const second = field(rotated.stdout, 'webhook_secret');
    assert.notEqual(second, first);
    assert.match(rotated.stderr, new RegExp(`previous secret ${firstId} also signs until \\d{4}-\\d\\d-\\d\\dT[\\d:]+Z`));

    const third = await keys(['webhook-secret', '--tenant', tenant]);
    assert.equal(third.code, 1, 'no third secret while two sign');
    assert.match(third.stderr, new RegExp(`already has 2 active secrets \\(${firstId}, ${secondId}\\)`));

    const during = await keys(['list', '--tenant', tenant]);
    assert.equal(during.code, 0, during.stderr);
    assert.match(during.stdout, /^WEBHOOK SECRET\s+TENANT\s+CREATED\s+SIGNS$/m);
    assert.match(during.stdout, new RegExp(`^${firstId}\\s+${tenant}\\s+\\S+Z\\s+active until \\S+Z$`, 'm'));
    assert.match(during.stdout, new RegExp(`^${secondId}\\s+${tenant}\\s+\\S+Z\\s+active$`, 'm'));

    const retired = await keys(['webhook-secret', '--tenant', tenant, '--retire']);
    assert.equal(retired.code, 0, retired.stderr);
    assert.match(retired.stdout, new RegExp(`retired ${firstId}`));
    const afterRetire = await keys(['list', '--tenant', tenant]);
    assert.match(afterRetire.stdout, new RegExp(`^${firstId}\\s+${tenant}\\s+\\S+Z\\s+retired \\S+Z$`, 'm'));
    assert.match(afterRetire.stdout, new RegExp(`^${secondId}\\s+${tenant}\\s+\\S+Z\\s+active$`, 'm'));

    const unknown = await keys(['webhook-secret', '--tenant', `nobody-${tenant}`]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no tenant nobody-/);

    // Shown once: nothing after the command that made a secret prints it again, on either stream.
    for (const run of [again, third, during, retired, afterRetire]) {
      for (const secret of [first, second]) assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret), 'a secret shown again');
    }
    assert.ok(!created.stderr.includes(first) && !rotated.stderr.includes(second), 'secrets go to stdout only');

    // What was printed is what signs.
    const db = onPostgres ? pgDb! : await openDb({ pgliteDir: path.join(dataDir!, 'pglite') });
    try {
      const rows = await db.db
        .selectFrom('webhook_secrets')
        .select(['id', 'secret'])
        .where('tenant_id', '=', tenant)
        .orderBy('created_at')
        .execute();
      assert.deepEqual(rows, [
        { id: firstId, secret: first },
        { id: secondId, secret: second },
      ]);
    } finally {
      if (!onPostgres) await db.close();
    }
  });

  test('bad arguments are refused before the database is touched', async () => {
    for (const args of [
      ['create'],
      ['create', '--tenant', 'a', '--rate', 'reads=lots'],
      ['create', '--tenant', 'a', '--max-items', '50001'],
      ['revoke'],
      ['frobnicate'],
      ['list', '--bogus'],
      ['webhook-secret'],
      ['webhook-secret', '--tenant', 'a', '--overlap', '31d'],
      ['webhook-secret', '--tenant', 'a', '--overlap', 'soon'],
      ['webhook-secret', '--tenant', 'a', '--retire', '--overlap', '1h'],
    ]) {
      const run = await keys(args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /usage:/);
    }
  });
});
