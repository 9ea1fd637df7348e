/**
 * An existing Temporal behind mTLS, reached the production way: `src/main/start.ts` (API and
 * worker in one process, both connections built by src/temporal/connection.ts) with
 * TEMPORAL_ADDRESS pointing at a TLS terminator in front of the suite's dev server, and the
 * certificate settings a self-hosted cluster needs (TEMPORAL_TLS_CA, _CERT, _KEY, _SERVER_NAME).
 * A batch runs through it end to end; with the wrong CA the process stops at start and says which
 * setting to check.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { eventually } from '../helpers/api';
import { startShipped } from '../helpers/shipped';
import { items } from '../helpers/stack';
import { temporalAddress, uniqueTaskQueue } from '../helpers/temporal';
import { makeCerts, startTerminator, type Certs, type Terminator } from '../helpers/tls';
import { connectClientConnection } from '../../src/temporal/connection';

let certs: Certs;
let terminator: Terminator;
let namespace: string;

before(async () => {
  certs = makeCerts();
  const suite = await temporalAddress();
  namespace = suite.namespace;
  terminator = await startTerminator(certs, suite.address);
});

after(async () => {
  await terminator?.close();
  if (certs) fs.rmSync(certs.dir, { recursive: true, force: true });
});

/** What a deployment sets to reach the cluster: address, namespace, its own queue, the TLS files. */
const tlsEnv = (caPath: string): Record<string, string> => ({
  TEMPORAL_ADDRESS: terminator.address,
  TEMPORAL_NAMESPACE: namespace,
  TEMPORAL_TASK_QUEUE: uniqueTaskQueue(),
  TEMPORAL_TLS_CA: caPath,
  TEMPORAL_TLS_CERT: certs.clientCert,
  TEMPORAL_TLS_KEY: certs.clientKey,
  TEMPORAL_TLS_SERVER_NAME: certs.serverName,
});

test('over mTLS: the API and the worker connect, /readyz names the namespace, a batch completes', { timeout: 300_000 }, async () => {
  const app = await startShipped(tlsEnv(certs.caPath));
  try {
    const ready = (await (await app.api('/readyz')).json()) as { status: string; namespace: string };
    assert.equal(ready.status, 'ready');
    assert.equal(ready.namespace, namespace);
    // Both of the process's connections (the client and the worker's) came through the terminator.
    assert.ok(terminator.authorized() >= 2, `TLS connections with a client certificate: ${terminator.authorized()}`);

    const res = await app.api('/v1/batches', { method: 'POST', body: JSON.stringify({ items: items(20) }) });
    assert.equal(res.status, 202, await res.clone().text());
    const { batch_id: batchId } = (await res.json()) as { batch_id: string };
    const done = await eventually(
      'the batch to complete',
      async () => {
        const body = (await (await app.api(`/v1/batches/${batchId}`)).json()) as { status: string; counts: Record<string, number> };
        return body.status === 'completed' ? body : undefined;
      },
      120_000,
    );
    assert.equal(done.counts.published, 20);
  } finally {
    await app.stop();
  }
});

test('with the wrong CA, the process stops at start and names the setting to check', { timeout: 300_000 }, async () => {
  const before = terminator.authorized();
  const err = await startShipped(tlsEnv(certs.otherCaPath)).then(
    async (app) => {
      await app.stop();
      return undefined;
    },
    (e: unknown) => e as Error,
  );
  assert.ok(err, 'start-up must fail');
  assert.match(err.message, /exited with 1 before it served/);
  assert.match(err.message, /cannot connect to Temporal at 127\.0\.0\.1:\d+ \(namespace \S+; TLS, CA TEMPORAL_TLS_CA=\S*other-ca\.pem/);
  assert.match(err.message, /The TLS handshake failed: TEMPORAL_TLS_CA must hold the CA that signed the server certificate/);
  assert.equal(terminator.authorized(), before, 'no connection was made with the wrong CA');
});

test("the API's client connection says the same: the gRPC client's own error names no certificate", { timeout: 60_000 }, async () => {
  const target = {
    address: terminator.address,
    namespace,
    tls: { caPath: certs.otherCaPath, certPath: certs.clientCert, keyPath: certs.clientKey, serverName: certs.serverName },
  };
  const err = await connectClientConnection(target, { connectTimeoutMs: 3_000 }).then(
    async (c) => {
      await c.close();
      return undefined;
    },
    (e: unknown) => e as Error,
  );
  assert.ok(err, 'the connection must fail');
  assert.match(err.message, /a TLS handshake with the same settings: .*certificate/);
  assert.match(err.message, /The TLS handshake failed: TEMPORAL_TLS_CA must hold the CA/);
});
