/**
 * Tenant isolation across every route: another tenant's key sees none of a batch. The routes come
 * from the app's own routers, so a route added later is covered (or fails here) without editing this.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type Router from '@koa/router';
import pino from 'pino';
import WebSocket from 'ws';
import { createApp } from '../../src/api/app';
import { items, startStack, waitForBatch, type Stack } from '../helpers/stack';

let stack: Stack;
let other: { tenantId: string; key: string };
let batchId: string;
let runningId: string;

before(async () => {
  stack = await startStack();
  other = await stack.addTenant();
  const submit = async (body: Record<string, unknown>): Promise<string> => {
    const res = await stack.api('/v1/batches', { method: 'POST', body: JSON.stringify(body) });
    assert.equal(res.status, 202);
    return ((await res.json()) as { batch_id: string }).batch_id;
  };
  batchId = await submit({ items: items(4), stages: ['classify'] });
  await waitForBatch(stack, batchId);
  // A batch that stays open, so actions that need a running batch reach their tenant check.
  runningId = await submit({ items: items(200), stages: ['classify'], chunk_size: 1, max_parallel_chunks: 1 });
  const paused = await stack.api(`/v1/batches/${runningId}/pause`, { method: 'POST' });
  assert.equal(paused.status, 202);
});
after(async () => {
  await stack.api(`/v1/batches/${runningId}/cancel`, { method: 'POST', body: '{}' });
  await waitForBatch(stack, runningId).catch(() => undefined);
  await stack.stop();
});

/** Every (method, path) the app serves that names one batch, in Koa's `:param` form. */
function batchRoutes(): Array<{ method: string; path: string }> {
  const app = createApp({
    db: stack.db.db,
    client: stack.client,
    batches: stack.batches,
    log: pino({ level: 'silent' }),
    maxBodyBytes: 1024,
  });
  const out: Array<{ method: string; path: string }> = [];
  for (const mw of app.middleware as Array<{ router?: Router }>) {
    for (const layer of mw.router?.stack ?? []) {
      const path = String(layer.path);
      if (!/:(id|batch_id|job_id)\b/.test(path)) continue;
      for (const method of layer.methods) if (method !== 'HEAD') out.push({ method, path });
    }
  }
  return out;
}

/** A body each action accepts, so that only the tenant check can refuse it. */
function bodyFor(method: string, path: string): string | undefined {
  if (method === 'GET' || method === 'DELETE') return undefined;
  if (path.endsWith('/:id') && method === 'PATCH') return JSON.stringify({ max_parallel_chunks: 2 });
  if (path.includes('/review/')) return JSON.stringify({ label: '6109' });
  return '{}';
}

describe('another tenant', () => {
  test('gets 404 from every route that names a batch, for a finished and a running batch', async () => {
    const routes = batchRoutes();
    assert.ok(routes.length >= 12, `found only ${routes.length} batch routes`);
    for (const id of [batchId, runningId]) {
      for (const { method, path } of routes) {
        const url = path.replace(/:(id|batch_id|job_id)\b/, id).replace(':ref', 'sku-0');
        if (path.endsWith('/ws')) {
          assert.equal(await wsStatus(url, other.key), 404, `${method} ${path}`);
          continue;
        }
        const res = await stack.api(url, { method, body: bodyFor(method, path), key: other.key });
        const text = await res.text();
        assert.equal(res.status, 404, `${method} ${path} answered ${res.status}: ${text}`);
        const body = JSON.parse(text) as { error?: { code: string } };
        assert.equal(body.error?.code, 'not_found', `${method} ${path}`);
      }
    }
    // Nothing the other tenant tried reached the batches.
    const finished = (await (await stack.api(`/v1/batches/${batchId}`)).json()) as { status: string };
    assert.equal(finished.status, 'completed');
    const running = (await (await stack.api(`/v1/batches/${runningId}`)).json()) as { status: string };
    assert.equal(running.status, 'paused');
  });

  test('lists, review queues, catalog and bulk cancel show none of the first tenant', async () => {
    const list = (await (await stack.api('/v1/batches', { key: other.key })).json()) as { batches: unknown[] };
    assert.deepEqual(list.batches, []);
    const review = (await (await stack.api(`/v1/review?batch_id=${batchId}`, { key: other.key })).json()) as { items: unknown[] };
    assert.deepEqual(review.items, []);
    const catalog = (await (await stack.api(`/v1/catalog?batch_id=${batchId}`, { key: other.key })).json()) as { items: unknown[] };
    assert.deepEqual(catalog.items, []);
    const stale = (await (await stack.api('/v1/batches?stale=true', { key: other.key })).json()) as { batches: unknown[] };
    assert.deepEqual(stale.batches, []);
    const cancelled = await stack.api('/v1/batches/cancel', { method: 'POST', body: JSON.stringify({ status: 'paused' }), key: other.key });
    assert.deepEqual(((await cancelled.json()) as { cancelled: string[] }).cancelled, []);
    const compat = (await (await stack.api('/api/batches', { key: other.key })).json()) as { batches: unknown[] };
    assert.deepEqual(compat.batches, []);
  });
});

/** The HTTP status a WebSocket upgrade is refused with (or 101 when it is accepted). */
function wsStatus(path: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${stack.baseUrl.replace('http', 'ws')}${path}`, { headers: { 'x-api-key': key } });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('open', () => {
      resolve(101);
      ws.close();
    });
    ws.once('error', (err) => reject(err));
  });
}
