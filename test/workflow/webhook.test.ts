/**
 * Completion webhooks against a real stack: signed delivery with retries recorded on the batch, a
 * delivery that never holds its batch open, redrives that notify again, and the SSRF guard both at
 * submission (400, nothing created) and at delivery (an address that changed since: failed for good).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { webhookWorkflowIdFor, type WebhookOutcome, type WebhookRetry } from '../../src/contracts/webhook';
import { workflowIdFor } from '../../src/contracts/workflow';
import type { ResolvedAddress } from '../../src/net/ssrf';
import { eventually, getBatch, submit, type BatchBody } from '../helpers/api';
import { startPublishTarget, type PublishTarget } from '../helpers/publish-target';
import { items, startStack, waitForBatch, type Stack } from '../helpers/stack';
import { startWebhookReceiver, verifySignature } from '../helpers/webhook-receiver';

const SECRET = 'test-webhook-secret-3f9a1c';
/**
 * Tuning opt-in, for the two tests about the attempt count (three recorded; exhausted): fast, and
 * exactly three attempts, so a receiver that fails twice still gets its event. Every other test
 * here runs on the shipped policy (DEFAULT_WEBHOOK_RETRY).
 */
const RETRY: Partial<WebhookRetry> = { initialIntervalMs: 100, maximumIntervalMs: 300, maximumAttempts: 3, attemptTimeoutMs: 5_000 };

interface Payload {
  event: string;
  batch_id: string;
  status: string;
  counts: Record<string, number>;
  cost: { total: number; by_tier: Record<string, number> };
  rolled_back: boolean;
  items_url: string;
  finished_at: string;
}
type WithWebhook = BatchBody & {
  webhook: { status: string; attempts: number; last_error: string | null } | null;
  completed_at: string | null;
  cost: unknown;
};

let target: PublishTarget;
/** Private callbacks allowed (a loopback receiver), at the API and the worker; the shipped retry policy. */
let open: Stack;
/** As `open`, with the bounded RETRY: for the tests about attempts. */
let bounded: Stack;
/** The default: private callbacks refused. Its worker resolves `*.rebind.test` to a private address. */
let strict: Stack;

before(async () => {
  target = await startPublishTarget();
  open = await startStack({ allowPrivateCallbacks: true, publishUrl: target.url, webhook: { secret: SECRET } });
  bounded = await startStack({ allowPrivateCallbacks: true, publishUrl: target.url, webhook: { secret: SECRET, retry: RETRY } });
  const rebind = async (host: string): Promise<ResolvedAddress[]> => {
    if (host.endsWith('.rebind.test')) return [{ address: '10.0.0.7', family: 4 }];
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  };
  strict = await startStack({ webhook: { secret: SECRET, resolve: rebind } });
});
after(async () => {
  await open?.stop();
  await bounded?.stop();
  await strict?.stop();
  await target?.close();
});

const webhookOf = async (stack: Stack, batchId: string) => ((await getBatch(stack, batchId)) as WithWebhook).webhook;

/** The delivery workflow of the batch's latest run, and its result. */
async function deliveryResult(stack: Stack, batchId: string): Promise<WebhookOutcome> {
  // The row turns final in finishBatch, one workflow task before the run starts the delivery:
  // wait for the run to close, so the delivery's workflow exists.
  const batch = stack.client.workflow.getHandle(workflowIdFor(batchId));
  await batch.result().catch(() => undefined);
  const { runId } = await batch.describe();
  return stack.client.workflow.getHandle(webhookWorkflowIdFor(batchId, runId)).result() as Promise<WebhookOutcome>;
}

test(
  'a finished batch is reported to its callback_url, signed, after two refusals; three attempts are recorded',
  { timeout: 120_000 },
  async () => {
    const receiver = await startWebhookReceiver((n) => (n < 2 ? 500 : 200));
    try {
      const batchId = await submit(bounded, { items: items(6), stages: ['classify'], chunk_size: 2, callback_url: receiver.url });
      const accepted = (await getBatch(bounded, batchId)) as WithWebhook;
      assert.equal(accepted.webhook?.status, 'pending');

      const done = (await waitForBatch(bounded, batchId)) as unknown as WithWebhook;
      assert.equal(done.status, 'completed');
      await eventually('three requests', () => receiver.received.length >= 3);
      const outcome = await deliveryResult(bounded, batchId);
      assert.deepEqual(outcome, { status: 'delivered', attempts: 3, lastError: null });
      assert.equal(receiver.received.length, 3, 'nothing after the 2xx');

      // Every attempt: the same body and delivery id, a valid signature over "<t>.<body>".
      const [first] = receiver.received;
      for (const hook of receiver.received) {
        assert.equal(hook.path, '/hooks/batchflow');
        assert.equal(hook.body, first!.body);
        assert.equal(hook.headers['content-type'], 'application/json');
        assert.match(hook.headers['user-agent'] ?? '', /^batchflow-webhook\//);
        assert.equal(
          hook.headers['x-batchflow-delivery'],
          webhookWorkflowIdFor(batchId, (await bounded.client.workflow.getHandle(workflowIdFor(batchId)).describe()).runId),
        );
        assert.ok(
          verifySignature(SECRET, hook.headers['x-batchflow-signature'] as string, hook.body),
          `signature ${String(hook.headers['x-batchflow-signature'])}`,
        );
        assert.equal(verifySignature('another-secret-entirely', hook.headers['x-batchflow-signature'] as string, hook.body), false);
        assert.equal(
          verifySignature(SECRET, hook.headers['x-batchflow-signature'] as string, hook.body.replace('completed', 'failed')),
          false,
        );
      }

      const final = (await getBatch(bounded, batchId)) as WithWebhook;
      const payload = JSON.parse(first!.body) as Payload;
      assert.deepEqual(Object.keys(payload).sort(), [
        'batch_id',
        'cost',
        'counts',
        'event',
        'finished_at',
        'items_url',
        'rolled_back',
        'status',
      ]);
      assert.equal(payload.event, 'batch.finished');
      assert.equal(payload.batch_id, batchId);
      assert.equal(payload.status, 'completed');
      assert.deepEqual(payload.counts, final.counts);
      assert.equal(payload.counts.classified, 6);
      assert.deepEqual(payload.cost, final.cost);
      assert.equal(payload.rolled_back, false);
      assert.equal(payload.items_url, `/v1/batches/${batchId}/items`);
      assert.equal(payload.finished_at, final.completed_at);
      assert.deepEqual(final.webhook, { status: 'delivered', attempts: 3, last_error: 'HTTP 500 Internal Server Error' });
    } finally {
      await receiver.close();
    }
  },
);

test('a receiver that never accepts: the delivery fails after its attempts, and says why', { timeout: 120_000 }, async () => {
  const receiver = await startWebhookReceiver(() => 503);
  try {
    const batchId = await submit(bounded, { items: items(2), stages: ['classify'], callback_url: receiver.url });
    await waitForBatch(bounded, batchId);
    assert.deepEqual(await deliveryResult(bounded, batchId), { status: 'failed', attempts: 3, lastError: 'HTTP 503 Service Unavailable' });
    assert.deepEqual(await webhookOf(bounded, batchId), { status: 'failed', attempts: 3, last_error: 'HTTP 503 Service Unavailable' });
    assert.equal(receiver.received.length, 3);
  } finally {
    await receiver.close();
  }
});

test('a slow receiver never holds the batch open', { timeout: 120_000 }, async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const receiver = await startWebhookReceiver(async () => {
    await held;
    return 204;
  });
  try {
    const batchId = await submit(open, { items: items(2), stages: ['classify'], callback_url: receiver.url });
    await eventually('the webhook request', () => receiver.received.length === 1);
    // The receiver has not answered, and the batch's execution has already closed.
    const batchRun = await open.client.workflow.getHandle(workflowIdFor(batchId)).describe();
    assert.equal(batchRun.status.name, 'COMPLETED');
    assert.deepEqual(await webhookOf(open, batchId), { status: 'pending', attempts: 0, last_error: null });
    release();
    assert.deepEqual(await deliveryResult(open, batchId), { status: 'delivered', attempts: 1, lastError: null });
    assert.deepEqual(await webhookOf(open, batchId), { status: 'delivered', attempts: 1, last_error: null });
  } finally {
    release();
    await receiver.close();
  }
});

test('a redrive that finishes again notifies again, as a new delivery', { timeout: 120_000 }, async () => {
  const receiver = await startWebhookReceiver();
  target.faults.rejectRefs = new Set(['sku-1']);
  try {
    const batchId = await submit(open, {
      items: items(4),
      stages: ['classify', 'ingest', 'publish'],
      chunk_size: 2,
      callback_url: receiver.url,
    });
    await waitForBatch(open, batchId);
    await eventually('the first webhook', () => receiver.received.length === 1);
    assert.equal((JSON.parse(receiver.received[0]!.body) as Payload).status, 'partial');
    assert.deepEqual(await deliveryResult(open, batchId), { status: 'delivered', attempts: 1, lastError: null });

    target.faults.rejectRefs = undefined;
    const res = await open.api(`/v1/batches/${batchId}/retry-failed`, { method: 'POST' });
    assert.equal(res.status, 202, await res.text());
    await waitForBatch(open, batchId, (b) => b.status === 'completed');
    await eventually('the second webhook', () => receiver.received.length === 2);
    const [one, two] = receiver.received;
    assert.equal((JSON.parse(two!.body) as Payload).status, 'completed');
    assert.notEqual(two!.headers['x-batchflow-delivery'], one!.headers['x-batchflow-delivery']);
    assert.deepEqual(await deliveryResult(open, batchId), { status: 'delivered', attempts: 1, lastError: null });
    assert.deepEqual(await webhookOf(open, batchId), { status: 'delivered', attempts: 1, last_error: null });
  } finally {
    target.faults.rejectRefs = undefined;
    await receiver.close();
  }
});

test('a batch cancelled from Temporal (UI/CLI) still reports its end', { timeout: 120_000 }, async () => {
  const receiver = await startWebhookReceiver();
  target.faults.latencyMs = 200;
  try {
    const batchId = await submit(open, {
      items: items(12),
      stages: ['classify', 'ingest', 'publish'],
      chunk_size: 2,
      max_parallel_chunks: 1,
      callback_url: receiver.url,
    });
    await eventually('a first published item', () => target.creates.length > 0);
    await open.client.workflow.getHandle(workflowIdFor(batchId)).cancel();
    await waitForBatch(open, batchId);
    await eventually('the webhook', () => receiver.received.length === 1);
    assert.equal((JSON.parse(receiver.received[0]!.body) as Payload).status, 'cancelled');
  } finally {
    target.faults.latencyMs = undefined;
    await receiver.close();
  }
});

test('a batch without callback_url has no webhook', { timeout: 60_000 }, async () => {
  const batchId = await submit(open, { items: items(2), stages: ['classify'] });
  await waitForBatch(open, batchId);
  assert.equal(await webhookOf(open, batchId), null);
});

test(
  'callback URLs on private, loopback and link-local addresses are refused at submission; nothing is created',
  { timeout: 60_000 },
  async () => {
    const receiver = await startWebhookReceiver();
    try {
      const refused: Array<[string, RegExp]> = [
        [receiver.url, /127\.0\.0\.1 is a loopback address/],
        [`http://localhost:${receiver.port}/hooks`, /host localhost resolves to (127\.0\.0\.1|::1), a loopback address/],
        ['http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is a link-local address/],
        ['http://[::ffff:10.0.0.1]/', /\(10\.0\.0\.1\) is a private address/],
        ['ftp://hooks.example.com/batchflow', /./],
      ];
      for (const [url, issue] of refused) {
        const res = await strict.api('/v1/batches', {
          method: 'POST',
          body: JSON.stringify({ items: items(2), stages: ['classify'], callback_url: url }),
        });
        const body = (await res.json()) as { error: { code: string; details: Array<{ path: string; issue: string }> } };
        assert.equal(res.status, 400, `${url}: ${JSON.stringify(body)}`);
        assert.equal(body.error.code, 'validation_failed');
        const detail = body.error.details.find((d) => d.path === 'callback_url');
        assert.ok(detail, `${url}: ${JSON.stringify(body)}`);
        assert.match(detail.issue, issue, url);
      }
      const list = (await (await strict.api('/v1/batches')).json()) as { batches: unknown[] };
      assert.equal(list.batches.length, 0, 'no batch was created');
      assert.equal(receiver.received.length, 0);
    } finally {
      await receiver.close();
    }
  },
);

test('an address refused at delivery (DNS changed since submission) fails the delivery for good, unsent', { timeout: 60_000 }, async () => {
  // Does not resolve at submission (let through: each delivery checks again); at delivery the
  // worker's resolver answers 10.0.0.7.
  const batchId = await submit(strict, { items: items(2), stages: ['classify'], callback_url: 'http://hooks.rebind.test/batchflow' });
  await waitForBatch(strict, batchId);
  const outcome = await deliveryResult(strict, batchId);
  assert.equal(outcome.status, 'failed');
  assert.equal(outcome.attempts, 1, 'not retried');
  assert.deepEqual(await webhookOf(strict, batchId), {
    status: 'failed',
    attempts: 1,
    last_error:
      'refused: callback_url host hooks.rebind.test resolves to 10.0.0.7, a private address; callbacks must reach a public address',
  });
});
