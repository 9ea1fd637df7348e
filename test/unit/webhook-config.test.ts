/** Webhook configuration: the WEBHOOK_* variables, and the embedded mode's persisted secret. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { DEFAULT_WEBHOOK_RETRY } from '../../src/contracts/webhook';
import { ensureWebhookSecret, WEBHOOK_SECRET_FILE } from '../../src/auth/shared-webhook-secret';

test('WEBHOOK_* variables set the secret and the retry policy; defaults otherwise', () => {
  const plain = loadConfig({});
  assert.equal(plain.webhook.secret, undefined);
  assert.deepEqual(plain.webhook.retry, DEFAULT_WEBHOOK_RETRY);
  assert.equal(plain.allowPrivateCallbacks, false);

  const c = loadConfig({
    WEBHOOK_SECRET: 'a-long-enough-secret',
    WEBHOOK_RETRY_INITIAL_MS: '250',
    WEBHOOK_RETRY_MAX_INTERVAL_MS: '1000',
    WEBHOOK_RETRY_MAX_ATTEMPTS: '4',
    WEBHOOK_RETRY_WINDOW_MS: '60000',
    WEBHOOK_TIMEOUT_MS: '2000',
    ALLOW_PRIVATE_CALLBACKS: 'true',
  });
  assert.equal(c.webhook.secret, 'a-long-enough-secret');
  assert.deepEqual(c.webhook.retry, {
    initialIntervalMs: 250,
    backoffCoefficient: 2,
    maximumIntervalMs: 1000,
    maximumAttempts: 4,
    windowMs: 60_000,
    attemptTimeoutMs: 2000,
  });
  assert.equal(c.allowPrivateCallbacks, true);
});

test('a short WEBHOOK_SECRET is refused without echoing it', () => {
  assert.throws(
    () => loadConfig({ WEBHOOK_SECRET: 'hunter2' }),
    (err: Error) =>
      err instanceof ConfigError &&
      /WEBHOOK_SECRET: WEBHOOK_SECRET must be at least 16 characters/.test(err.message) &&
      !err.message.includes('hunter2'),
  );
});

test('the embedded secret is made once, kept 0600 in the data dir, and WEBHOOK_SECRET wins', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-secret-'));
  try {
    const made = ensureWebhookSecret({ dataDir });
    assert.equal(made.source, 'new');
    assert.match(made.secret, /^whsec_[A-Za-z0-9_-]{32}$/);
    const file = path.join(dataDir, WEBHOOK_SECRET_FILE);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);

    const again = ensureWebhookSecret({ dataDir });
    assert.deepEqual(again, { ...made, source: 'file' }, 'stable across restarts');

    const fixed = ensureWebhookSecret({ dataDir, fixed: 'from-the-environment-123' });
    assert.equal(fixed.secret, 'from-the-environment-123');
    assert.equal(fixed.source, 'env');
    assert.equal(fs.readFileSync(file, 'utf8').trim(), made.secret, 'the environment does not overwrite the file');
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('WEBHOOK_RETRY_MAX_ATTEMPTS=0 means no attempt limit (the default); a negative count is refused, naming the variable', () => {
  assert.equal(DEFAULT_WEBHOOK_RETRY.maximumAttempts, 0);
  assert.equal(loadConfig({}).webhook.retry.maximumAttempts, 0);
  assert.equal(loadConfig({ WEBHOOK_RETRY_MAX_ATTEMPTS: '0' }).webhook.retry.maximumAttempts, 0);
  assert.equal(loadConfig({ WEBHOOK_RETRY_MAX_ATTEMPTS: '' }).webhook.retry.maximumAttempts, 0, 'empty is unset');
  assert.throws(
    () => loadConfig({ WEBHOOK_RETRY_MAX_ATTEMPTS: '-1' }),
    (err: Error) => err instanceof ConfigError && /WEBHOOK_RETRY_MAX_ATTEMPTS: .*0 \(no limit/.test(err.message),
  );
  assert.throws(
    () => loadConfig({ WEBHOOK_RETRY_MAX_ATTEMPTS: '2.5' }),
    (err: Error) => err instanceof ConfigError && /WEBHOOK_RETRY_MAX_ATTEMPTS/.test(err.message),
  );
});
