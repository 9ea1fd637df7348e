/**
 * Per-tenant webhook secrets (issue 13), in the database: a rotation leaves two signing, never
 * three; the older stops at its expiry or at --retire; a tenant that ever had a secret of its own
 * falls back to WEBHOOK_SECRET only through its first rotation's overlap; listings carry no secret.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedSecretNotice } from '../../src/auth/shared-webhook-secret';
import type { Db } from '../../src/db/connect';
import { ensureTenant } from '../../src/db/keys';
import {
  createFirstWebhookSecret,
  hasOwnWebhookSecret,
  listWebhookSecrets,
  retireOlderWebhookSecrets,
  RotationInProgressError,
  rotateWebhookSecret,
  signingSecretsForBatch,
  tenantsSignedWithShared,
  UnknownTenantError,
} from '../../src/db/webhook-secrets';
import { sleep } from '../helpers/api';
import { testDb } from '../helpers/db';

let db: Db;
before(async () => {
  db = await testDb();
});
after(async () => {
  await db.close();
});

/** A tenant with one batch row, so that signingSecretsForBatch can be asked about it. */
async function tenantWithBatch(name: string): Promise<{ tenantId: string; batchId: string }> {
  await ensureTenant(db.db, name);
  const batchId = `b_${name}`;
  await db.db
    .insertInto('batches')
    .values({
      id: batchId,
      tenant_id: name,
      status: 'completed',
      priority: 'normal',
      options: '{}',
      metadata: '{}',
      total_items: 0,
      counts: '{}',
      workflow_id: `batch-${batchId}`,
    })
    .execute();
  return { tenantId: name, batchId };
}

const signing = async (batchId: string) => (await signingSecretsForBatch(db.db, batchId))!;

test('a first secret is made once; a rotation signs with both, newest first, until --retire', async () => {
  const { tenantId, batchId } = await tenantWithBatch('acme');
  assert.deepEqual(await signing(batchId), { tenantId, own: false, secrets: [] }, 'no secret of its own yet');

  const first = await createFirstWebhookSecret(db.db, tenantId);
  assert.ok(first);
  assert.match(first.secret, /^whsec_[A-Za-z0-9_-]{43}$/);
  assert.equal(await createFirstWebhookSecret(db.db, tenantId), undefined, 'never a second "first", never shown again');
  assert.deepEqual((await signing(batchId)).secrets, [first.secret]);

  const second = await rotateWebhookSecret(db.db, tenantId, 3_600);
  assert.deepEqual(
    second.previous.map((p) => p.id),
    [first.id],
  );
  const expiresIn = second.previous[0]!.expiresAt.getTime() - Date.now();
  assert.ok(expiresIn > 3_500_000 && expiresIn <= 3_600_000, `the old one signs for the overlap: ${expiresIn} ms`);
  assert.deepEqual((await signing(batchId)).secrets, [second.secret, first.secret], 'both sign, newest first');

  await assert.rejects(rotateWebhookSecret(db.db, tenantId, 3_600), RotationInProgressError, 'never three at once');
  assert.deepEqual((await signing(batchId)).secrets, [second.secret, first.secret], 'the refused rotation changed nothing');

  assert.deepEqual(await retireOlderWebhookSecrets(db.db, tenantId), [first.id]);
  assert.deepEqual((await signing(batchId)).secrets, [second.secret], 'only the new one after --retire');
  assert.deepEqual(await retireOlderWebhookSecrets(db.db, tenantId), [], 'nothing left to retire');

  const listed = await listWebhookSecrets(db.db, tenantId);
  assert.deepEqual(
    listed.map((s) => [s.id, s.active]),
    [
      [first.id, false],
      [second.id, true],
    ],
  );
  assert.ok(!JSON.stringify(listed).includes('whsec_'), 'a listing carries no secret');
});

test('the previous secret stops signing by itself when its overlap ends; overlap 0 stops it at once', async () => {
  const { tenantId, batchId } = await tenantWithBatch('overlap');
  const first = (await createFirstWebhookSecret(db.db, tenantId))!;
  const second = await rotateWebhookSecret(db.db, tenantId, 1);
  assert.deepEqual((await signing(batchId)).secrets, [second.secret, first.secret]);
  await sleep(1_200);
  assert.deepEqual((await signing(batchId)).secrets, [second.secret], 'expired without --retire');

  // A leaked secret: rotate with no overlap.
  const third = await rotateWebhookSecret(db.db, tenantId, 0);
  assert.deepEqual((await signing(batchId)).secrets, [third.secret]);
  assert.equal((await signing(batchId)).own, true, 'a tenant with its own secrets never falls back to WEBHOOK_SECRET');
});

test("tenants are isolated: one tenant's rotation leaves another's secret alone; unknown tenants are refused", async () => {
  const a = await tenantWithBatch('iso-a');
  const b = await tenantWithBatch('iso-b');
  const secretA = (await createFirstWebhookSecret(db.db, a.tenantId))!.secret;
  const secretB = (await createFirstWebhookSecret(db.db, b.tenantId))!.secret;
  assert.notEqual(secretA, secretB);
  const rotatedA = await rotateWebhookSecret(db.db, a.tenantId, 0);
  assert.deepEqual((await signing(a.batchId)).secrets, [rotatedA.secret]);
  assert.deepEqual((await signing(b.batchId)).secrets, [secretB], "B's secret is not A's business");

  await assert.rejects(rotateWebhookSecret(db.db, 'no-such-tenant', 60), UnknownTenantError);
  await assert.rejects(createFirstWebhookSecret(db.db, 'no-such-tenant'), UnknownTenantError);

  const without = await tenantsSignedWithShared(db.db);
  assert.ok(
    !without.some((t) => t.id === a.tenantId || t.id === b.tenantId),
    'tenants with their own secrets are not signed with the shared one',
  );
});

test('a tenant from before per-tenant secrets: its first rotation keeps WEBHOOK_SECRET signing through the overlap', async () => {
  const { tenantId, batchId } = await tenantWithBatch('legacy');
  assert.deepEqual(
    (await tenantsSignedWithShared(db.db)).find((t) => t.id === tenantId),
    { id: tenantId, own: false },
  );
  assert.match((await sharedSecretNotice(db.db, true))!, /WEBHOOK_SECRET signs the webhooks of \d+ tenants? \(.*legacy/);
  assert.match((await sharedSecretNotice(db.db, false))!, /legacy.*have no webhook signing secret and no WEBHOOK_SECRET stands in/);

  const own = await rotateWebhookSecret(db.db, tenantId, 3_600);
  assert.equal(own.previous.length, 1, 'the shared secret is the previous one');
  assert.deepEqual(await signing(batchId), { tenantId, own: true, secrets: [own.secret, null] }, 'null: WEBHOOK_SECRET, still signing');
  assert.deepEqual(
    (await tenantsSignedWithShared(db.db)).find((t) => t.id === tenantId),
    { id: tenantId, own: true },
  );
  const listed = await listWebhookSecrets(db.db, tenantId);
  assert.deepEqual(
    listed.map((s) => [s.shared, s.active]),
    [
      [true, true],
      [false, true],
    ],
  );

  assert.deepEqual(await retireOlderWebhookSecrets(db.db, tenantId), [own.previous[0]!.id]);
  assert.deepEqual((await signing(batchId)).secrets, [own.secret]);
  assert.equal(
    (await tenantsSignedWithShared(db.db)).find((t) => t.id === tenantId),
    undefined,
  );
  assert.ok(!((await sharedSecretNotice(db.db, false)) ?? '').includes('legacy'));
  assert.equal(await hasOwnWebhookSecret(db.db, tenantId), true);
});
