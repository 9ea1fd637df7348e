/**
 * The publish target's HTTP client (activities/stages/publish/client.ts) against a server on
 * loopback: connections are reused, every answer maps as the contract says, a hang is a transient
 * failure, and a request that cannot be built fails for good.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { publishOne } from '../../activities/stages/publish/http';
import { httpUnpublisher } from '../../activities/stages/publish/undo';
import type { WorkItem } from '../../src/db/items';
import type { ItemResult } from '../../activities/stages/runner';
import type { ItemFailure } from '../../activities/errors';

/** The failure of a result that must have failed. */
const failureOf = (r: ItemResult | undefined): ItemFailure => {
  assert.ok(r && 'failure' in r, `expected a failure: ${JSON.stringify(r)}`);
  return r.failure;
};

const item = (seq: number, ref = `sku-${seq}`) => ({ seq, ref, text: 't', classification: null, attributes: {} }) as unknown as WorkItem;

async function withServer(
  handle: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void,
  run: (url: string, connections: () => number) => Promise<void>,
): Promise<void> {
  let connections = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handle(req, res, body));
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, () => connections);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

test('sequential publishes reuse one connection, and each gets its id under its own key', async () => {
  const keys: string[] = [];
  await withServer(
    (req, res, body) => {
      keys.push(String(req.headers['idempotency-key']));
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `id-${JSON.parse(body).ref}` }));
    },
    async (url, connections) => {
      for (let seq = 1; seq <= 20; seq++) {
        const r = await publishOne({ baseUrl: url, timeoutMs: 5_000, concurrency: 1 }, 'b_1', item(seq, seq === 3 ? '商品 3' : undefined));
        assert.deepEqual(r, { seq, ok: true, publishedId: seq === 3 ? 'id-商品 3' : `id-sku-${seq}` });
      }
      // undici may open a second socket while the first is handed back to its pool; never one per request.
      assert.ok(connections() <= 2, `${connections()} connections for 20 requests: kept alive and reused`);
    },
  );
  assert.equal(keys[2], `b_1:${encodeURIComponent('商品 3')}`);
});

test('429 and 5xx are transient with the Retry-After advice; 4xx is permanent with the answer', async () => {
  const answers = [
    [429, '{}', { 'retry-after': '2' }],
    [503, 'down', {}],
    [422, 'bad classification', {}],
    [201, 'not json', {}],
  ] as const;
  let n = 0;
  await withServer(
    (_req, res) => {
      const [status, body, headers] = answers[n++]!;
      res.writeHead(status, headers).end(body);
    },
    async (url) => {
      const opts = { baseUrl: url, timeoutMs: 5_000, concurrency: 1 };
      const got = [];
      for (let seq = 1; seq <= answers.length; seq++) got.push(await publishOne(opts, 'b_1', item(seq)));
      assert.deepEqual(got[0], {
        seq: 1,
        ok: false,
        failure: { code: 'transient', message: 'publish target answered 429', retryable: true, retryAfterMs: 2000 },
      });
      assert.equal(failureOf(got[1]).retryable, true);
      assert.deepEqual(got[2], {
        seq: 3,
        ok: false,
        failure: { code: 'downstream_rejected', message: 'publish target answered 422: bad classification', retryable: false },
      });
      assert.equal(failureOf(got[3]).message, 'publish target answered 201 without an id');
    },
  );
});

test('a target that hangs past the timeout is a transient failure, and the next request still goes out', async () => {
  let n = 0;
  await withServer(
    (_req, res) => {
      if (n++ === 0) return; // never answers
      res.writeHead(201).end('{"id":"x"}');
    },
    async (url) => {
      const opts = { baseUrl: url, timeoutMs: 200, concurrency: 1 };
      const hung = await publishOne(opts, 'b_1', item(1));
      assert.equal(failureOf(hung).code, 'transient');
      assert.deepEqual(await publishOne(opts, 'b_1', item(2)), { seq: 2, ok: true, publishedId: 'x' });
    },
  );
});

test('a publish URL that is not a URL fails for good', async () => {
  const r = await publishOne({ baseUrl: 'not a url', timeoutMs: 1_000, concurrency: 1 }, 'b_1', item(1));
  assert.equal(failureOf(r).code, 'invalid_request');
  assert.equal(failureOf(r).retryable, false);
});

test('DELETE: 204 and 404 are undone, 500 is retryable, 400 is not', async () => {
  const statuses = [204, 404, 500, 400];
  let n = 0;
  await withServer(
    (req, res) => {
      assert.equal(req.method, 'DELETE');
      res.writeHead(statuses[n++]!).end(n === 3 ? 'oops' : undefined);
    },
    async (url) => {
      const undo = httpUnpublisher({ baseUrl: url, timeoutMs: 5_000 });
      assert.deepEqual(await undo('a'), { ok: true });
      assert.deepEqual(await undo('b'), { ok: true });
      assert.deepEqual(await undo('c'), { ok: false, retryable: true, message: 'DELETE answered 500' });
      assert.deepEqual(await undo('d'), { ok: false, retryable: false, message: 'DELETE answered 400' });
    },
  );
});
