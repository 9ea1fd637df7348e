import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { ConfigError, DEFAULT_RETRY, loadConfig } from '../../src/config';
import { explain } from '../../src/temporal/connection';

test('the embedded defaults apply when nothing is set', () => {
  const c = loadConfig({});
  assert.equal(c.port, 3000);
  assert.equal(c.databaseUrl, undefined);
  assert.equal(c.temporal.namespace, 'default');
  assert.equal(c.temporal.uiUrl, 'http://localhost:8233');
  assert.deepEqual(c.retry, DEFAULT_RETRY);
});

test('stage retry policies can be overridden per stage and field', () => {
  const c = loadConfig({ STAGE_RETRY_JSON: '{"publish":{"maximumAttempts":3,"initialIntervalMs":50}}' });
  assert.equal(c.retry.publish.maximumAttempts, 3);
  assert.equal(c.retry.publish.initialIntervalMs, 50);
  assert.equal(c.retry.publish.backoffCoefficient, DEFAULT_RETRY.publish.backoffCoefficient);
  assert.deepEqual(c.retry.classify, DEFAULT_RETRY.classify);
});

test('bad values fail fast, naming the variable', () => {
  assert.throws(
    () => loadConfig({ PORT: 'eighty' }),
    (e: Error) => e instanceof ConfigError && /PORT/.test(e.message),
  );
  assert.throws(() => loadConfig({ STAGE_RETRY_JSON: '{"publish":{"bogus":1}}' }), ConfigError);
  // Temporal refuses a limit of 0 when the activity is scheduled: refused here, at start.
  assert.throws(() => loadConfig({ STAGE_RETRY_JSON: '{"publish":{"maximumAttempts":0}}' }), ConfigError);
  assert.throws(() => loadConfig({ BATCHFLOW_DEV_API_KEY: 'short' }), /at least 16/);
});

test('permanent error types are not retried by default', () => {
  for (const stage of ['classify', 'ingest', 'publish'] as const) {
    assert.ok(DEFAULT_RETRY[stage].nonRetryableErrorTypes.includes('DownstreamRejected'));
    assert.ok(DEFAULT_RETRY[stage].nonRetryableErrorTypes.includes('ValidationError'));
  }
});

test('an empty variable counts as unset', () => {
  const c = loadConfig({ PUBLISH_URL: '', DATABASE_URL: '', PORT: '' });
  assert.equal(c.publishUrl, undefined);
  assert.equal(c.databaseUrl, undefined);
  assert.equal(c.port, 3000);
});

test("request rates: the contract's per-minute defaults, RATE_LIMIT_*_PER_MINUTE, and the deprecated *_PER_HOUR over its own hour", () => {
  const defaults = loadConfig({}).limits;
  assert.deepEqual(
    [defaults.submissions, defaults.reads, defaults.exports],
    [
      { points: 60, windowSeconds: 60 },
      { points: 600, windowSeconds: 60 },
      { points: 30, windowSeconds: 60 },
    ],
  );
  const perMinute = loadConfig({
    RATE_LIMIT_SUBMISSIONS_PER_MINUTE: '5',
    RATE_LIMIT_READS_PER_MINUTE: '50',
    RATE_LIMIT_EXPORTS_PER_MINUTE: '2',
  }).limits;
  assert.deepEqual(
    [perMinute.submissions, perMinute.reads, perMinute.exports],
    [
      { points: 5, windowSeconds: 60 },
      { points: 50, windowSeconds: 60 },
      { points: 2, windowSeconds: 60 },
    ],
  );
  // An operator's old hourly setting keeps meaning what it said; the per-minute one wins when both are set.
  const legacy = loadConfig({
    RATE_LIMIT_READS_PER_HOUR: '1000',
    RATE_LIMIT_EXPORTS_PER_HOUR: '10',
    RATE_LIMIT_EXPORTS_PER_MINUTE: '3',
  }).limits;
  assert.deepEqual(legacy.reads, { points: 1_000, windowSeconds: 3_600 });
  assert.deepEqual(legacy.exports, { points: 3, windowSeconds: 60 });
  assert.deepEqual(legacy.submissions, { points: 60, windowSeconds: 60 });
  assert.throws(
    () => loadConfig({ RATE_LIMIT_READS_PER_MINUTE: '0' }),
    (e: Error) => e instanceof ConfigError && /RATE_LIMIT_READS_PER_MINUTE/.test(e.message),
  );
});

test('Temporal TLS and API key, as the Temporal CLI reads the same variables', () => {
  assert.equal(loadConfig({}).temporal.tls, undefined, 'plaintext unless asked');
  assert.equal(loadConfig({}).temporal.apiKey, undefined);
  // An API key (Temporal Cloud) turns TLS on with the system's roots.
  const cloud = loadConfig({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: 'secret-key' });
  assert.deepEqual(cloud.temporal.tls, {});
  assert.equal(cloud.temporal.apiKey, 'secret-key');
  assert.deepEqual(loadConfig({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' }).temporal.tls, undefined, 'false keeps it off');
  assert.deepEqual(loadConfig({ TEMPORAL_TLS: 'true' }).temporal.tls, {});
  // mTLS files and the name to check turn it on by themselves.
  assert.deepEqual(
    loadConfig({
      TEMPORAL_TLS_CA: '/ca.pem',
      TEMPORAL_TLS_CERT: '/c.pem',
      TEMPORAL_TLS_KEY: '/c.key',
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    }).temporal.tls,
    { caPath: '/ca.pem', certPath: '/c.pem', keyPath: '/c.key', serverName: 'temporal.internal' },
  );
  assert.throws(
    () => loadConfig({ TEMPORAL_TLS_CERT: '/c.pem' }),
    (e: Error) => e instanceof ConfigError && /needs both/.test(e.message),
  );
  assert.throws(() => loadConfig({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_CA: '/ca.pem' }), ConfigError);
  assert.throws(
    () => loadConfig({ TEMPORAL_TLS: 'yes' }),
    (e: Error) => e instanceof ConfigError && /TEMPORAL_TLS/.test(e.message),
  );
});

test('a connection that fails names what was tried, never the API key', async () => {
  const err = await explain(
    { address: '127.0.0.1:1', namespace: 'prod', apiKey: 'do-not-print-me' },
    new Error('Failed to connect before the deadline'),
  );
  assert.match(err.message, /cannot connect to Temporal at 127\.0\.0\.1:1 \(namespace prod; no TLS, an API key \(TEMPORAL_API_KEY\)\)/);
  assert.doesNotMatch(err.message, /do-not-print-me/);
});

test("a worker's identity is named, not a process id", () => {
  assert.equal(loadConfig({}).workerIdentity, `batchflow-worker@${os.hostname()}`);
  assert.equal(loadConfig({ WORKER_IDENTITY: 'eu-worker-3' }).workerIdentity, 'eu-worker-3');
  assert.doesNotMatch(loadConfig({}).workerIdentity, new RegExp(`\\b${process.pid}\\b`));
});
