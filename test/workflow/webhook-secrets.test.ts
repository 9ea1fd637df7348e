/**
 * Per-tenant webhook signing secrets against a real stack (issue 13): tenant A's receiver verifies
 * A's webhooks and B's secret cannot satisfy it; a rotation signs with both secrets during the
 * overlap and with the new one alone once the old is retired; WEBHOOK_SECRET signs only for a
 * tenant without a secret of its own, and through the overlap of its first rotation. Every log line the worker's Temporal runtime emits, at
 * DEBUG, is kept, and none carries a secret.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createFirstWebhookSecret, retireOlderWebhookSecrets, rotateWebhookSecret } from '../../src/db/webhook-secrets';
import { eventually, submit } from '../helpers/api';
import { items, startStack, waitForBatch, type Stack } from '../helpers/stack';
import { signaturesOf, startWebhookReceiver, verifySignature, type ReceivedHook, type WebhookReceiver } from '../helpers/webhook-receiver';

// Before anything touches the runtime: the worker's logs, raw, before any redaction.
const logLines: string[] = [];
Runtime.install({ logger: new DefaultLogger('DEBUG', (entry) => logLines.push(`${entry.message} ${JSON.stringify(entry.meta ?? {})}`)) });

/** WEBHOOK_SECRET, the deployment-wide fallback. */
const SHARED = 'shared-webhook-secret-for-legacy-tenants';

let stack: Stack;
let receiver: WebhookReceiver;
/** Every secret the test has seen: none may reach a log line. */
const secretsSeen = new Set<string>([SHARED]);

before(async () => {
  stack = await startStack({ allowPrivateCallbacks: true, webhook: { secret: SHARED } });
  receiver = await startWebhookReceiver();
});
after(async () => {
  await receiver?.close();
  await stack?.stop();
});

/** Runs a one-item batch for the key's tenant and answers the webhook it sent. */
async function hookOf(key: string): Promise<ReceivedHook> {
  const batchId = await submit(stack, { items: items(1), stages: ['classify'], callback_url: receiver.url }, key);
  await waitForBatch(stack, batchId, undefined, 120_000, key);
  return eventually('the webhook', () => receiver.received.find((h) => (JSON.parse(h.body) as { batch_id: string }).batch_id === batchId));
}

const signature = (hook: ReceivedHook): string => hook.headers['x-batchflow-signature'] as string;
const verifies = (secret: string, hook: ReceivedHook): boolean => verifySignature(secret, signature(hook), hook.body);

test("each tenant's webhooks are signed with its own secret: A's receiver cannot be satisfied with B's", { timeout: 120_000 }, async () => {
  const a = await stack.addTenant();
  const b = await stack.addTenant();
  const secretA = (await createFirstWebhookSecret(stack.db.db, a.tenantId))!.secret;
  const secretB = (await createFirstWebhookSecret(stack.db.db, b.tenantId))!.secret;
  secretsSeen.add(secretA).add(secretB);

  const hookA = await hookOf(a.key);
  const hookB = await hookOf(b.key);
  assert.match(signature(hookA), /^t=\d+,v1=[0-9a-f]{64}$/, "the contract's header, one signature");
  assert.ok(verifies(secretA, hookA), "A's webhook verifies with A's secret");
  assert.equal(verifies(secretB, hookA), false, "B's secret cannot verify (so cannot forge) A's webhook");
  assert.equal(verifies(SHARED, hookA), false, 'nor can WEBHOOK_SECRET, once A has its own');
  assert.ok(verifies(secretB, hookB));
  assert.equal(verifies(secretA, hookB), false);
  // B, holding its own secret, signs a body claiming to be about A's batch: A's receiver refuses it.
  const forged = `t=${Math.floor(Date.now() / 1000)},v1=${signaturesOf(signature(hookB))[0]}`;
  assert.equal(verifySignature(secretA, forged, hookA.body), false);
});

test('a rotation: both secrets verify during the overlap, only the new one after the old is retired', { timeout: 180_000 }, async () => {
  const a = await stack.addTenant();
  const old = (await createFirstWebhookSecret(stack.db.db, a.tenantId))!.secret;
  const rotated = await rotateWebhookSecret(stack.db.db, a.tenantId, 3_600);
  secretsSeen.add(old).add(rotated.secret);

  const during = await hookOf(a.key);
  assert.match(signature(during), /^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/, 'two signatures during the overlap');
  assert.ok(verifies(old, during), 'a receiver not yet switched still verifies');
  assert.ok(verifies(rotated.secret, during), 'a receiver already switched verifies');
  // A receiver that keeps only the last v1= (Object.fromEntries over the pairs) is checking the old secret.
  const [first, last] = signaturesOf(signature(during));
  const t = /^t=(\d+)/.exec(signature(during))![1];
  assert.equal(verifySignature(rotated.secret, `t=${t},v1=${first}`, during.body), true, 'newest first');
  assert.equal(verifySignature(old, `t=${t},v1=${last}`, during.body), true, 'the retiring one last');

  assert.deepEqual(
    await retireOlderWebhookSecrets(stack.db.db, a.tenantId),
    rotated.previous.map((p) => p.id),
  );
  const afterRetire = await hookOf(a.key);
  assert.match(signature(afterRetire), /^t=\d+,v1=[0-9a-f]{64}$/);
  assert.ok(verifies(rotated.secret, afterRetire), 'the new secret verifies');
  assert.equal(verifies(old, afterRetire), false, 'the retired one no longer does');
});

test(
  'WEBHOOK_SECRET signs for a tenant without a secret of its own; its first rotation keeps it through the overlap, then it stops',
  { timeout: 180_000 },
  async () => {
    const legacy = await stack.addTenant();
    const shared = await hookOf(legacy.key);
    assert.match(signature(shared), /^t=\d+,v1=[0-9a-f]{64}$/);
    assert.ok(verifies(SHARED, shared), 'a tenant from before per-tenant secrets keeps getting signed webhooks');
    assert.ok(
      logLines.some((l) => l.includes('signed with the shared WEBHOOK_SECRET') && l.includes(legacy.tenantId)),
      'and the worker says so',
    );

    const own = await rotateWebhookSecret(stack.db.db, legacy.tenantId, 3_600);
    secretsSeen.add(own.secret);
    const during = await hookOf(legacy.key);
    assert.ok(verifies(SHARED, during), 'its receiver, still on WEBHOOK_SECRET, keeps verifying');
    assert.ok(verifies(own.secret, during), 'and may switch to its own secret at any time');

    await retireOlderWebhookSecrets(stack.db.db, legacy.tenantId);
    const afterRetire = await hookOf(legacy.key);
    assert.ok(verifies(own.secret, afterRetire));
    assert.equal(verifies(SHARED, afterRetire), false, 'the shared secret no longer verifies its webhooks');
  },
);

test('no secret in the worker logs', () => {
  assert.ok(logLines.length > 20, `the worker logged (${logLines.length} lines at DEBUG)`);
  assert.ok(secretsSeen.size >= 6);
  for (const secret of secretsSeen) {
    const line = logLines.find((l) => l.includes(secret));
    assert.equal(line, undefined, `a log line carries a secret: ${line}`);
  }
});
