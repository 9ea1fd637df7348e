/**
 * The published OpenAPI document: every route the app serves is in it, and real answers parse with
 * the response schemas it is generated from.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type Router from '@koa/router';
import pino from 'pino';
import { createApp } from '../../src/api/app';
import * as res from '../../src/contracts/responses';
import { items, startStack, waitForBatch, type Stack } from '../helpers/stack';

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(() => stack.stop());

/** The (method, path) pairs of every router mounted in the app, in OpenAPI's `{param}` form. */
function servedRoutes(): Array<{ method: string; path: string }> {
  const app = createApp({ db: stack.db.db, client: stack.client, batches: stack.batches, log: silentLog(), maxBodyBytes: 1024 });
  const out: Array<{ method: string; path: string }> = [];
  for (const mw of app.middleware as Array<{ router?: Router }>) {
    for (const layer of mw.router?.stack ?? []) {
      for (const method of layer.methods) {
        if (method === 'HEAD') continue;
        out.push({ method: method.toLowerCase(), path: String(layer.path).replace(/:(\w+)/g, '{$1}') });
      }
    }
  }
  return out;
}

const silentLog = () => pino({ level: 'silent' });

describe('GET /openapi.json', () => {
  test('documents every route the app serves, with the method it serves', async () => {
    const doc = (await (await fetch(`${stack.baseUrl}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    assert.equal(doc.openapi, '3.1.0');
    const served = servedRoutes();
    assert.ok(served.length >= 15, `found ${served.length} routes`);
    // Static assets of /docs are not API routes.
    const missing = served.filter((r) => r.path !== '/docs/{file}' && r.path !== '/docs/init.js' && !doc.paths[r.path]?.[r.method]);
    assert.deepEqual(missing, [], 'routes served but not documented');
  });

  test('takes its request schemas from the validating zod schemas', async () => {
    const doc = (await (await fetch(`${stack.baseUrl}/openapi.json`)).json()) as unknown;
    const submit = (
      doc as {
        paths: Record<
          string,
          { post: { requestBody: { content: Record<string, { schema: { properties: Record<string, { maximum?: number }> } }> } } }
        >;
      }
    ).paths['/v1/batches']!.post;
    const props = submit.requestBody.content['application/json']!.schema.properties;
    assert.equal(props.chunk_size!.maximum, 500, 'chunk_size bound comes from the schema the route validates with');
    assert.ok(props.items && props.items_text && props.on_cancel);
  });
});

describe('GET /docs', () => {
  test('renders the document with Swagger UI served locally', async () => {
    const page = await fetch(`${stack.baseUrl}/docs`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    const html = await page.text();
    assert.match(html, /swagger-ui-bundle\.js/);
    const bundle = await fetch(`${stack.baseUrl}/docs/swagger-ui-bundle.js`);
    assert.equal(bundle.status, 200);
    assert.ok((await bundle.arrayBuffer()).byteLength > 100_000);
    assert.equal((await fetch(`${stack.baseUrl}/docs/../package.json`)).status, 404);
  });
});

describe('answers match the documented response schemas', () => {
  test('submit, read, list, items and an error', async () => {
    const submitted = await stack.api('/v1/batches', {
      method: 'POST',
      body: JSON.stringify({ items: items(6), stages: ['classify'], chunk_size: 2 }),
    });
    assert.equal(submitted.status, 202);
    const body = res.Submitted.parse(await submitted.json());
    await waitForBatch(stack, body.batch_id);
    res.Batch.parse(await (await stack.api(`/v1/batches/${body.batch_id}`)).json());
    res.BatchList.parse(await (await stack.api('/v1/batches?limit=5')).json());
    const page = res.ItemPage.parse(await (await stack.api(`/v1/batches/${body.batch_id}/items`)).json());
    assert.equal(page.items.length, 6);
    const missing = await stack.api('/v1/batches/b_nope');
    assert.equal(missing.status, 404);
    res.ErrorBody.parse(await missing.json());
  });
});
