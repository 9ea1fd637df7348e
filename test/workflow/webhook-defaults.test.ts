/**
 * Completion webhooks on the SHIPPED retry policy: the worker's webhook options are what
 * loadConfig() makes of an environment with only the secret and ALLOW_PRIVATE_CALLBACKS (a loopback
 * receiver), so no WEBHOOK_RETRY_* setting is involved. The default says "no attempt limit, until
 * the window ends" (maximumAttempts 0), which once reached Temporal's RetryPolicy as 0 and failed
 * every delivery at once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { DEFAULT_WEBHOOK_RETRY } from '../../src/contracts/webhook';
import { workerOptions } from '../../src/temporal/worker-options';
import { eventually, getBatch, submit, type BatchBody } from '../helpers/api';
import { items, startStack, waitForBatch, type Stack } from '../helpers/stack';
import { startWebhookReceiver, verifySignature } from '../helpers/webhook-receiver';

const SECRET = 'shipped-defaults-webhook-secret';
type WithWebhook = BatchBody & { webhook: { status: string; attempts: number; last_error: string | null } | null };

let stack: Stack;
let dataDir: string;

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-webhook-defaults-'));
  const config = loadConfig({ BATCHFLOW_DATA_DIR: dataDir, WEBHOOK_SECRET: SECRET, ALLOW_PRIVATE_CALLBACKS: 'true' });
  assert.deepEqual(config.webhook.retry, DEFAULT_WEBHOOK_RETRY, 'the shipped policy, untouched');
  assert.equal(config.webhook.retry.maximumAttempts, 0, 'the shipped default: no attempt limit');
  // The worker's webhook options exactly as `npm run worker` derives them from that config.
  stack = await startStack({ allowPrivateCallbacks: config.allowPrivateCallbacks, webhook: workerOptions(config).webhook });
});
after(async () => {
  await stack?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

const webhookOf = async (batchId: string) => ((await getBatch(stack, batchId)) as WithWebhook).webhook;

test('on the shipped retry policy, a finished batch is delivered to its callback_url, signed', { timeout: 120_000 }, async () => {
  const receiver = await startWebhookReceiver();
  try {
    const batchId = await submit(stack, { items: items(4), stages: ['classify'], chunk_size: 2, callback_url: receiver.url });
    const done = await waitForBatch(stack, batchId);
    assert.equal(done.status, 'completed');

    await eventually('the signed POST', () => receiver.received.length >= 1);
    const [hook] = receiver.received;
    assert.equal(hook!.path, '/hooks/batchflow');
    assert.ok(
      verifySignature(SECRET, hook!.headers['x-batchflow-signature'] as string | undefined, hook!.body),
      'signed with WEBHOOK_SECRET',
    );
    const payload = JSON.parse(hook!.body) as { event: string; batch_id: string; status: string };
    assert.deepEqual([payload.event, payload.batch_id, payload.status], ['batch.finished', batchId, 'completed']);

    const webhook = await eventually('webhook delivered', async () => {
      const w = await webhookOf(batchId);
      return w?.status === 'delivered' ? w : undefined;
    });
    assert.ok(webhook.attempts >= 1, `attempts ${webhook.attempts}`);
    assert.equal(webhook.last_error, null);
  } finally {
    await receiver.close();
  }
});

test('on the shipped retry policy, a receiver that refuses once is tried again (no attempt limit of 0)', { timeout: 120_000 }, async () => {
  // The default's first retry comes 5 s after the first attempt.
  const receiver = await startWebhookReceiver((n) => (n === 0 ? 503 : 200));
  try {
    const batchId = await submit(stack, { items: items(2), stages: ['classify'], callback_url: receiver.url });
    await waitForBatch(stack, batchId);
    const webhook = await eventually(
      'webhook delivered on the second attempt',
      async () => {
        const w = await webhookOf(batchId);
        return w?.status === 'delivered' ? w : undefined;
      },
      60_000,
    );
    assert.equal(webhook.attempts, 2);
    assert.equal(receiver.received.length, 2);
    assert.ok(receiver.received[1]!.at - receiver.received[0]!.at >= 4_000, 'the shipped 5 s initial interval');
  } finally {
    await receiver.close();
  }
});
