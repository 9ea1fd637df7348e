/**
 * File submissions end to end against a real stack: POST /v1/batches with a CSV or NDJSON body and
 * the options in the query. Batches run with their attributes; a bad row refuses the file whole,
 * naming row and column; Idempotency-Key works on files; the byte limit holds while streaming; and
 * a 50,000-row CSV is accepted while the server's memory is sampled (the stack runs in this
 * process, so process.memoryUsage() sees the server).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { CoreTier } from '../../activities/stages/classify';
import { allItems, getBatch, type BatchBody } from '../helpers/api';
import { startStack, waitForBatch, type Stack } from '../helpers/stack';

/** Every text is classified at once and for sure, so every batch here completes. */
const core: CoreTier = {
  classify: () => ({ label: '6109', confidence: 0.95, candidates: [{ label: '6109', description: 'T-shirts', confidence: 0.95 }] }),
};

// A collection on demand makes the memory figures measure what is kept, not what awaits collection.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

let stack: Stack;
before(async () => {
  stack = await startStack({ classify: { core } });
});
after(() => stack.stop());

type Body = string | Buffer | ReadableStream<Uint8Array>;

/** POST /v1/batches with a file body. A ReadableStream goes chunked, without Content-Length. */
const upload = (s: Stack, body: Body, type: string, query = '', headers: Record<string, string> = {}): Promise<Response> =>
  s.api(`/v1/batches${query}`, { method: 'POST', body, headers: { 'content-type': type, ...headers }, duplex: 'half' } as RequestInit);

const CSV = 'text/csv';
const NDJSON = 'application/x-ndjson';

interface ErrorBody {
  error: { code: string; message: string; details?: Array<{ path: string; issue: string }>; request_id: string };
}

async function expectError(res: Response, status: number, code: string): Promise<ErrorBody['error']> {
  const body = (await res.json()) as ErrorBody;
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.error.code, code);
  return body.error;
}

async function accepted(res: Response): Promise<BatchBody> {
  const body = (await res.json()) as BatchBody;
  assert.equal(res.status, 202, JSON.stringify(body));
  return body;
}

const batchCount = async (s: Stack): Promise<number> =>
  Number(
    (
      await s.db.db
        .selectFrom('batches')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .where('tenant_id', '=', s.tenantId)
        .executeTakeFirstOrThrow()
    ).n,
  );

/** The stored items of a batch, by ref. */
async function storedItems(
  batchId: string,
): Promise<
  Map<string, { text: string | null; content_b64: string | null; content_type: string | null; attributes: Record<string, unknown> | null }>
> {
  const rows = await stack.db.db
    .selectFrom('batch_items')
    .select(['ref', 'text', 'content_b64', 'content_type', 'attributes'])
    .where('batch_id', '=', batchId)
    .execute();
  return new Map(rows.map((r) => [r.ref, r]));
}

describe('a CSV file', () => {
  const content = Buffer.from('%PDF-1.4 invoice 7').toString('base64');
  const csv = [
    'ref,text,origin_country,content,content_type,material',
    'sku-1,"Men\'s cotton t-shirt, crew neck",CN,,,cotton',
    'sku-2,Leather shoes,IT,,,',
    `invoice-7.pdf,Invoice seven,,${content},application/pdf,`,
    '"sku ""4""","wooden chair\nwith arms",MX,,,oak',
  ].join('\r\n');

  test('runs to completed, and its items carry their attributes to the catalog', async () => {
    const submitted = await accepted(await upload(stack, csv, `${CSV}; charset=utf-8`));
    assert.equal(submitted.total_items, 4);
    const done = await waitForBatch(stack, submitted.batch_id);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.equal(done.counts.published, 4);

    const stored = await storedItems(submitted.batch_id);
    assert.deepEqual(stored.get('sku-1'), {
      ref: 'sku-1',
      text: "Men's cotton t-shirt, crew neck",
      content_b64: null,
      content_type: null,
      attributes: { origin_country: 'CN', material: 'cotton' },
    });
    assert.deepEqual(stored.get('sku-2')!.attributes, { origin_country: 'IT' }, 'an empty cell is no attribute');
    assert.equal(stored.get('invoice-7.pdf')!.content_b64, content);
    assert.equal(stored.get('invoice-7.pdf')!.content_type, 'application/pdf');
    assert.equal(stored.get('invoice-7.pdf')!.attributes, null);
    assert.deepEqual(stored.get('sku "4"'), {
      ref: 'sku "4"',
      text: 'wooden chair\nwith arms',
      content_b64: null,
      content_type: null,
      attributes: { origin_country: 'MX', material: 'oak' },
    });

    const published = await stack.db.db
      .selectFrom('catalog_items')
      .select(['ref', 'payload'])
      .where('batch_id', '=', submitted.batch_id)
      .execute();
    const payloads = new Map(published.map((p) => [p.ref, p.payload]));
    assert.equal(payloads.size, 4);
    assert.deepEqual(payloads.get('sku-1')!.attributes, { origin_country: 'CN', material: 'cotton' });
    assert.deepEqual(payloads.get('sku "4"')!.attributes, { origin_country: 'MX', material: 'oak' });
  });

  test('options in the query take effect: stages, chunk size, priority, metadata', async () => {
    const rows = Array.from({ length: 7 }, (_, i) => `q-${i},cotton t-shirt ${i},CN`);
    const metadata = encodeURIComponent(JSON.stringify({ corridor: 'MX_US', collection: 'spring' }));
    const query = `?stages=classify&chunk_size=3&priority=express&max_parallel_chunks=2&on_cancel=rollback&max_failure_ratio=0.5&metadata=${metadata}`;
    const submitted = await accepted(await upload(stack, ['ref,text,origin_country', ...rows].join('\n'), CSV, query));
    await waitForBatch(stack, submitted.batch_id);
    const batch = await getBatch(stack, submitted.batch_id);
    assert.equal(batch.status, 'completed');
    assert.equal(batch.priority, 'express');
    assert.deepEqual(batch.options, {
      stages: ['classify'],
      chunk_size: 3,
      max_parallel_chunks: 2,
      priority: 'express',
      on_cancel: 'rollback',
      max_failure_ratio: 0.5,
      callback_url: null,
    });
    assert.deepEqual(batch.metadata, { corridor: 'MX_US', collection: 'spring' });
    const items = await allItems(stack, submitted.batch_id);
    assert.equal(items.length, 7);
    for (const item of items) {
      assert.equal(item.status, 'succeeded');
      assert.equal(item.stage, 'classify');
      assert.equal(item.published_id, null, 'classify only: nothing was published');
    }
  });
});

describe('an NDJSON file', () => {
  test('runs to completed with its attributes, and options from the query', async () => {
    const lines = [
      { ref: 'n-1', text: 'laptop computer', attributes: { origin_country: 'CN', weight_kg: 1.4 } },
      { ref: 'n-2', text: 'leather oxford shoes' },
      {
        ref: 'n-3',
        content: Buffer.from('hello').toString('base64'),
        content_type: 'text/plain',
        text: 'greeting card',
        attributes: { tags: ['a', 'b'] },
      },
    ];
    const body = `${lines.map((l) => JSON.stringify(l)).join('\r\n')}\n\n`;
    const submitted = await accepted(await upload(stack, body, NDJSON, '?stages=classify,ingest&chunk_size=2'));
    assert.equal(submitted.total_items, 3);
    const done = await waitForBatch(stack, submitted.batch_id);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.deepEqual((done.options as Record<string, unknown>).stages, ['classify', 'ingest']);
    assert.equal((done.options as Record<string, unknown>).chunk_size, 2);
    assert.equal(done.counts.ingested, 3);
    assert.equal(done.counts.published, 0);

    const staged = await stack.db.db
      .selectFrom('staged_items')
      .select(['ref', 'attributes'])
      .where('batch_id', '=', submitted.batch_id)
      .execute();
    const attrs = new Map(staged.map((s) => [s.ref, s.attributes]));
    assert.deepEqual(attrs.get('n-1'), { origin_country: 'CN', weight_kg: 1.4 });
    assert.deepEqual(attrs.get('n-3'), { tags: ['a', 'b'] });
    assert.equal(attrs.get('n-2'), null);
  });
});

describe('a bad file', () => {
  test('is refused whole, naming the row and the column, and leaves nothing', async () => {
    const before = await batchCount(stack);

    const badCsv = await expectError(
      await upload(stack, 'ref,text,content\ngood,shirt,\nbad,,not*base64\n,no ref,\n', CSV),
      400,
      'validation_failed',
    );
    assert.deepEqual(badCsv.details, [
      { path: 'rows.3.content', issue: 'must be base64' },
      { path: 'rows.4.ref', issue: 'required' },
    ]);
    assert.match(badCsv.message, /row 3, column content: must be base64/);

    const badJson = await expectError(
      await upload(stack, '{"ref":"a","text":"x"}\n{"ref":"b","text":\n{"ref":"c","text":"y"}\n', NDJSON),
      400,
      'validation_failed',
    );
    assert.equal(badJson.details!.length, 1);
    assert.equal(badJson.details![0]!.path, 'rows.2');
    assert.match(badJson.details![0]!.issue, /^not valid JSON/);
    assert.match(badJson.message, /row 2: not valid JSON/);

    const badField = await expectError(await upload(stack, '{"ref":"a","text":"x","colour":"red"}\n', NDJSON), 400, 'validation_failed');
    assert.deepEqual(badField.details, [{ path: 'rows.1.colour', issue: 'unknown field' }]);

    const dup = await expectError(await upload(stack, 'ref,text\na,x\nb,y\na,z\n', CSV), 400, 'validation_failed');
    assert.deepEqual(dup.details, [{ path: 'rows.4.ref', issue: 'duplicate ref "a" (first on row 2)' }]);
    const dupJson = await expectError(
      await upload(stack, '{"ref":"a","text":"x"}\n{"ref":"a","text":"y"}\n', NDJSON),
      400,
      'validation_failed',
    );
    assert.deepEqual(dupJson.details, [{ path: 'rows.2.ref', issue: 'duplicate ref "a" (first on row 1)' }]);

    const noRef = await expectError(await upload(stack, 'sku,text\na,x\n', CSV), 400, 'validation_failed');
    assert.deepEqual(noRef.details, [{ path: 'rows.1.ref', issue: 'the header has no ref column' }]);

    for (const [body, type] of [
      ['', CSV],
      ['ref,text\n', CSV],
      ['\n', NDJSON],
    ] as const) {
      const empty = await expectError(await upload(stack, body, type), 400, 'validation_failed');
      assert.deepEqual(empty.details, [{ path: 'rows', issue: 'the file holds no items' }]);
    }
    assert.equal(await batchCount(stack), before, 'no refused file left a batch behind');
  });

  test('more items than a batch may hold is refused without reading the rest', async () => {
    const rows = Array.from({ length: 50_001 }, (_, i) => `r${i},x`);
    const error = await expectError(await upload(stack, `ref,text\n${rows.join('\n')}\n`, CSV), 400, 'validation_failed');
    assert.deepEqual(error.details, [{ path: 'rows', issue: 'more than 50000 items (row 50002 is one too many)' }]);
  });

  test('bad query options and unknown media types are refused before the body is read', async () => {
    const file = 'ref,text\na,x\n';
    const options = await expectError(
      await upload(stack, file, CSV, '?stages=publish,classify&chunk_size=0&metadata=%7Bbroken&colour=red'),
      400,
      'validation_failed',
    );
    assert.deepEqual(
      options.details!.map((d) => d.path),
      ['stages', 'chunk_size', 'metadata', 'colour'],
    );
    await expectError(await upload(stack, file, 'text/plain'), 415, 'unsupported_media_type');
    await expectError(await upload(stack, file, 'text/csv; charset=latin1'), 415, 'unsupported_media_type');
  });
});

describe('Idempotency-Key with a file', () => {
  test('the same file and options replay the batch; another file or other options are refused', async () => {
    const key = `upload-${Date.now()}`;
    const file = 'ref,text,colour\nk-1,cotton t-shirt,red\nk-2,leather oxford shoes,brown\n';
    const first = await accepted(await upload(stack, file, CSV, '?stages=classify', { 'idempotency-key': key }));

    // Streamed this time, with a default spelled out: the digest is over bytes and normalised options.
    const streamed = new Blob([file]).stream();
    const again = await upload(stack, streamed, CSV, '?priority=normal&stages=classify', { 'idempotency-key': key });
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(((await again.json()) as BatchBody).batch_id, first.batch_id);

    await expectError(
      await upload(stack, file.replace('red', 'blue'), CSV, '?stages=classify', { 'idempotency-key': key }),
      422,
      'idempotency_key_reused',
    );
    await expectError(await upload(stack, file, CSV, '?stages=classify,ingest', { 'idempotency-key': key }), 422, 'idempotency_key_reused');
    // chunk_size has no fixed default (it is chosen per batch): spelling one out asks for something else.
    const chunked = `?stages=classify&chunk_size=${(first.options as Record<string, unknown>).chunk_size}`;
    await expectError(await upload(stack, file, CSV, chunked, { 'idempotency-key': key }), 422, 'idempotency_key_reused');
    const asNdjson =
      '{"ref":"k-1","text":"cotton t-shirt","attributes":{"colour":"red"}}\n{"ref":"k-2","text":"leather oxford shoes","attributes":{"colour":"brown"}}\n';
    await expectError(await upload(stack, asNdjson, NDJSON, '?stages=classify', { 'idempotency-key': key }), 422, 'idempotency_key_reused');
    await waitForBatch(stack, first.batch_id);
  });
});

/** A CSV of `rows` rows of about `rowBytes` bytes each, made as it is sent (never whole in memory). */
function csvStream(rows: number, rowBytes: number, onChunk: (bytes: number) => unknown = () => {}): ReadableStream<Uint8Array> {
  const words = ['cotton', 't-shirt', 'crew', 'neck', 'leather', 'shoes', 'laptop', 'wooden', 'chair'];
  const text = Array.from({ length: rowBytes }, (_, i) => words[i % words.length])
    .join(' ')
    .slice(0, rowBytes - 20);
  let next = -1;
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (next >= rows) return controller.close();
      let chunk = next === -1 ? 'ref,text,origin_country\n' : '';
      const end = Math.min(rows, next + 100);
      for (next = Math.max(next, 0); next < end; next++) chunk += `sku-${next},${text},CN\n`;
      const bytes = encoder.encode(chunk);
      controller.enqueue(bytes);
      onChunk(bytes.length);
    },
  });
}

describe('the byte limit', () => {
  test('413 when Content-Length says so, and when a streamed body passes it', async () => {
    const small = await startStack({ noWorker: true, maxBodyBytes: 2_000 });
    try {
      const big = `ref,text\n${Array.from({ length: 200 }, (_, i) => `r${i},cotton t-shirt`).join('\n')}\n`;
      assert.ok(big.length > 2_000);
      const declared = await expectError(await upload(small, big, CSV), 413, 'payload_too_large');
      assert.match(declared.message, /2000 bytes/);
      await expectError(await upload(small, csvStream(1_000, 100), CSV), 413, 'payload_too_large');
      const ndjson = Array.from({ length: 200 }, (_, i) => JSON.stringify({ ref: `r${i}`, text: 'cotton t-shirt' })).join('\n');
      await expectError(await upload(small, new Blob([ndjson]).stream(), NDJSON), 413, 'payload_too_large');
      assert.equal(await batchCount(small), 0);
      // The server is still fine after closing those connections.
      const ok = await accepted(await upload(small, 'ref,text\na,x\n', CSV));
      assert.equal(ok.total_items, 1);
    } finally {
      await small.stop();
    }
  });
});

describe('a 50,000-row CSV', () => {
  test('is accepted while streamed, without the server keeping copies of the file', async (t) => {
    const rows = 50_000;
    const rowBytes = 600;
    const mb = (n: number): string => (n / 1024 / 1024).toFixed(1);
    gc();
    const before = process.memoryUsage();
    // Garbage awaits collection for a while, so the heap is measured right after a forced GC: what
    // is live. Sampled as the client hands over every 25th chunk (2,500 rows) and every 500 ms
    // while the server inserts and starts the batch.
    let peakLive = before.heapUsed;
    let peakRss = before.rss;
    let pulls = 0;
    let sent = 0;
    const sample = (): void => {
      gc();
      const m = process.memoryUsage();
      peakLive = Math.max(peakLive, m.heapUsed);
      peakRss = Math.max(peakRss, m.rss);
    };
    const sampler = setInterval(sample, 500);
    const started = performance.now();
    const res = await upload(
      stack,
      csvStream(rows, rowBytes, (bytes) => {
        sent += bytes;
        if (++pulls % 25 === 0) sample();
      }),
      CSV,
      '?stages=classify&chunk_size=500',
    );
    const ms = performance.now() - started;
    clearInterval(sampler);
    const submitted = await accepted(res);
    assert.equal(submitted.total_items, rows);
    gc();
    const afterGc = process.memoryUsage();
    t.diagnostic(
      `50,000 rows (${mb(sent)} MB CSV, streamed chunked) accepted in ${Math.round(ms)} ms; ` +
        `live heap peak +${mb(peakLive - before.heapUsed)} MB, rss peak +${mb(peakRss - before.rss)} MB; ` +
        `after the answer: heap +${mb(afterGc.heapUsed - before.heapUsed)} MB, rss +${mb(afterGc.rss - before.rss)} MB`,
    );

    const cancel = await stack.api(`/v1/batches/${submitted.batch_id}/cancel`, { method: 'POST', body: '{}' });
    assert.ok([202, 409].includes(cancel.status), `cancel answered ${cancel.status}`);
    const done = await waitForBatch(stack, submitted.batch_id, undefined, 300_000);
    assert.ok(['cancelled', 'completed'].includes(done.status), done.status);
    assert.equal(done.total_items, rows);
  });
});
