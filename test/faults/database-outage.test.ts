/**
 * Fault: PostgreSQL is down (issue 12). A cluster of its own (never the shared one on 5432) is
 * stopped under a running API process: every route family answers the contract's 503
 * `unavailable` within 5 s (the pool's connect timeout is 3 s), the API stays up, nothing is
 * half-created, and once the database is back the same requests succeed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { temporalAddress } from '../helpers/temporal';
import { startPublishTarget } from '../helpers/publish-target';
import { createCluster } from '../helpers/pg-cluster';
import { apiFetch, freePort, openCase, submitBatch, waitForEnd } from '../helpers/faults';

/** One request of each route family, as a client sends it. */
const ROUTES = (batchId: string): Array<[string, string, unknown?]> => [
  ['POST', '/v1/batches', { items: [{ ref: 'outage-1', text: 'wooden dining chair' }] }],
  ['GET', '/v1/batches'],
  ['GET', `/v1/batches/${batchId}`],
  ['GET', `/v1/batches/${batchId}/items`],
  ['GET', `/v1/batches/${batchId}/events`],
  ['GET', `/v1/batches/${batchId}/export?format=csv`],
  ['POST', `/v1/batches/${batchId}/cancel`, {}],
  ['GET', '/v1/review'],
  ['GET', '/v1/catalog'],
  ['POST', '/api/v1/classify/bulk', { products: [{ product_id: 'p', description: 'wooden dining chair' }] }],
  ['POST', '/batch/jobs', { documents: [{ filename: 'a.txt', content: 'QUJD' }] }],
  ['POST', '/api/bulk-search', { part_numbers: ['PN-1'] }],
  ['GET', '/api/batches'],
];

test(
  'PostgreSQL down: every route family answers 503 within 5 s, nothing is half-created, and it recovers',
  { timeout: 600_000 },
  async (t) => {
    const cluster = await createCluster('batchflow_outage');
    try {
      const fault = await openCase({ databaseUrl: cluster.url, temporal: await temporalAddress(), target: await startPublishTarget() });
      try {
        const api = await fault.startApi('api', await freePort());
        const baseUrl = `http://127.0.0.1:${api.port}`;
        await fault.startWorker('worker');
        const { batchId } = await submitBatch(baseUrl, { items: [{ ref: 'before', text: 'wooden dining chair' }] });
        await waitForEnd(() => baseUrl, batchId, 120_000, fault);
        const rowsBefore = Number(
          (
            await fault.db.db
              .selectFrom('batches')
              .select((eb) => eb.fn.countAll().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );

        await cluster.stop();
        const slowest: number[] = [];
        for (const [method, route, body] of ROUTES(batchId)) {
          const started = Date.now();
          const res = await apiFetch(baseUrl, route, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
          const ms = Date.now() - started;
          slowest.push(ms);
          const text = await res.text();
          assert.equal(res.status, 503, `${method} ${route}: ${res.status} ${text}`);
          const error = (JSON.parse(text) as { error: { code: string; request_id: string } }).error;
          assert.equal(error.code, 'unavailable', `${method} ${route}`);
          assert.equal(error.request_id, res.headers.get('x-request-id'));
          assert.ok(res.headers.get('retry-after'), `${method} ${route}: Retry-After`);
          assert.ok(ms <= 5_000, `${method} ${route} answered in ${ms} ms`);
        }
        const ready = await fetch(`${baseUrl}/readyz`);
        const readyBody = (await ready.json()) as { checks: Record<string, string> };
        assert.equal(ready.status, 503);
        assert.notEqual(readyBody.checks.database, 'ok');
        assert.doesNotMatch(
          JSON.stringify(readyBody),
          /ECONNREFUSED|127\.0\.0\.1|password|postgres:\/\//,
          'readyz says what is down, not its error text',
        );
        t.diagnostic(
          `${ROUTES(batchId).length} route families answered 503 in ${Math.min(...slowest)}–${Math.max(...slowest)} ms; readyz: ${JSON.stringify(readyBody.checks)}`,
        );

        await cluster.start();
        // The API process lived through it and serves again; the refused submissions left nothing.
        assert.doesNotThrow(() => process.kill(api.pid, 0), 'the API survived the outage');
        const after = await (async () => {
          for (let i = 0; i < 60; i++) {
            const res = await apiFetch(baseUrl, '/v1/batches?limit=1').catch(() => undefined);
            if (res?.status === 200) return res.status;
            await new Promise((r) => setTimeout(r, 1_000));
          }
          return 0;
        })();
        assert.equal(after, 200, 'the API answers again once the database is back');
        const rowsAfter = Number(
          (
            await fault.db.db
              .selectFrom('batches')
              .select((eb) => eb.fn.countAll().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );
        assert.equal(rowsAfter, rowsBefore, 'no submission refused during the outage left a row');
        const again = await submitBatch(baseUrl, { items: [{ ref: 'after', text: 'wooden dining chair' }] });
        assert.equal((await waitForEnd(() => baseUrl, again.batchId, 120_000, fault)).status, 'completed');
      } finally {
        await fault.close();
      }
    } finally {
      await cluster.drop();
    }
  },
);
