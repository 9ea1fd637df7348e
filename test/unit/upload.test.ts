/**
 * The file submission parsers on their own: CSV and NDJSON rows into items, row numbering, the
 * refusals that name row and column, query options against the JSON body's, and the byte meter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { SubmitBatch, type Item } from '../../src/contracts/http';
import { BatchflowError } from '../../src/errors';
import { collectItems, MAX_PROBLEMS, type CollectOptions } from '../../src/api/upload/collect';
import { csvRows } from '../../src/api/upload/csv';
import { meteredBody } from '../../src/api/upload/meter';
import { lines, ndjsonRows } from '../../src/api/upload/ndjson';
import { optionsFromQuery } from '../../src/api/upload/query';
import type { Row } from '../../src/api/upload/rows';

/** The text cut into chunks of `size` bytes, as a socket might deliver it. */
async function* chunked(text: string | Buffer, size = 7): AsyncGenerator<Buffer> {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function all<T>(gen: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of gen) out.push(x);
  return out;
}

// A collection on demand makes the memory figures measure what is kept, not what awaits collection.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const csvOpts: CollectOptions = { maxItems: 50_000, cell: 'column' };
const ndjsonOpts: CollectOptions = { maxItems: 50_000, cell: 'field' };

/** The refusal's details as `path: issue` lines, and its message. */
async function refusal(work: Promise<unknown>): Promise<{ paths: string[]; message: string }> {
  const err = await work.then(
    () => assert.fail('expected the file to be refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof BatchflowError, String(err));
  assert.equal(err.status, 400);
  assert.equal(err.code, 'validation_failed');
  return { paths: (err.details ?? []).map((d) => `${d.path}: ${d.issue}`), message: err.message };
}

test('CSV: item columns become fields, every other column an attribute, empty cells absent', async () => {
  const csv =
    '\ufeffref,text,origin_country,content,content_type,colour\r\nsku-1,"Men\'s shirt, cotton",CN,,,red\r\nsku-2,,,aGk=,text/plain,\r\n';
  const items = await collectItems(csvRows(chunked(csv)), csvOpts);
  assert.deepEqual(items, [
    { ref: 'sku-1', text: "Men's shirt, cotton", attributes: { origin_country: 'CN', colour: 'red' } },
    { ref: 'sku-2', content: 'aGk=', content_type: 'text/plain' },
  ]);
});

test('CSV rows are numbered by the line they start on, header = row 1, blank lines counted', async () => {
  const csv = 'ref,text\na,"two\nlines"\n\nb,x\nc,y';
  const rows = await all(csvRows(chunked(csv, 3)));
  assert.deepEqual(
    rows.map((r) => r.row),
    [2, 5, 6],
  );
});

test('CSV: a bad cell names its row and column; every bad row is listed', async () => {
  const csv = 'ref,text,content\nok-1,fine,\nbad-b64,,not*base64\n,no ref,\nok-2,fine,\n';
  const { paths, message } = await refusal(collectItems(csvRows(chunked(csv)), csvOpts));
  assert.deepEqual(paths, ['rows.3.content: must be base64', 'rows.4.ref: required']);
  assert.match(message, /row 3, column content: must be base64 \(1 more in details\)/);
});

test('CSV: a row with neither text nor content is refused as a JSON item would be', async () => {
  const { paths } = await refusal(collectItems(csvRows(chunked('ref,text,colour\na,,red\n')), csvOpts));
  assert.deepEqual(paths, ['rows.2.text: one of text or content is required']);
});

test('CSV: broken structure stops the file at the row it happens in', async () => {
  const cells = await refusal(collectItems(csvRows(chunked('ref,text\na,b\nc\nd,e\n')), csvOpts));
  assert.deepEqual(cells.paths, ['rows.3: has 1 cells where the header has 2']);
  const quote = await refusal(collectItems(csvRows(chunked('ref,text\na,b\nc,"never closed\nd,e\n')), csvOpts));
  assert.deepEqual(quote.paths, ['rows.3: a quoted cell is never closed']);
});

test('CSV: the header must name a ref column, and each column once', async () => {
  assert.deepEqual((await refusal(collectItems(csvRows(chunked('id,text\na,b\n')), csvOpts))).paths, [
    'rows.1.ref: the header has no ref column',
  ]);
  assert.deepEqual((await refusal(collectItems(csvRows(chunked('ref,text,text\na,b,c\n')), csvOpts))).paths, [
    'rows.1.text: the header names this column twice',
  ]);
  assert.deepEqual((await refusal(collectItems(csvRows(chunked('ref,,text\na,b,c\n')), csvOpts))).paths, [
    'rows.1: column 2 of the header has no name',
  ]);
});

test('empty files, header-only files and duplicate refs are refused', async () => {
  assert.deepEqual((await refusal(collectItems(csvRows(chunked('')), csvOpts))).paths, ['rows: the file holds no items']);
  assert.deepEqual((await refusal(collectItems(csvRows(chunked('ref,text\n')), csvOpts))).paths, ['rows: the file holds no items']);
  assert.deepEqual((await refusal(collectItems(ndjsonRows(chunked('\n\n')), ndjsonOpts))).paths, ['rows: the file holds no items']);
  const dup = await refusal(collectItems(csvRows(chunked('ref,text\na,x\nb,y\na,z\n')), csvOpts));
  assert.deepEqual(dup.paths, ['rows.4.ref: duplicate ref "a" (first on row 2)']);
});

test('one item more than the limit is refused without reading further', async () => {
  let produced = 0;
  async function* endless(): AsyncGenerator<Row> {
    for (;;) yield { row: ++produced, item: { ref: `r${produced}`, text: 't' } };
  }
  const { paths } = await refusal(collectItems(endless(), { maxItems: 10, cell: 'field' }));
  assert.deepEqual(paths, ['rows: more than 10 items (row 11 is one too many)']);
  assert.equal(produced, 11);
});

test('a wholly wrong file answers at most MAX_PROBLEMS details', async () => {
  const csv = `ref,text\n${Array.from({ length: 1000 }, () => ',x').join('\n')}\n`;
  const { paths } = await refusal(collectItems(csvRows(chunked(csv, 4096)), csvOpts));
  assert.equal(paths.length, MAX_PROBLEMS + 1);
  assert.match(paths.at(-1)!, /^rows: more than 100 problems/);
});

test('NDJSON: lines split anywhere (inside UTF-8 characters too), CRLF and blank lines', async () => {
  const text = '{"ref":"é-1","text":"naïve café"}\r\n\n{"ref":"2","text":"✓","attributes":{"k":1}}';
  for (const size of [1, 2, 3, 5, 64]) {
    const items = await collectItems(ndjsonRows(chunked(text, size)), ndjsonOpts);
    assert.deepEqual(items, [
      { ref: 'é-1', text: 'naïve café' },
      { ref: '2', text: '✓', attributes: { k: 1 } },
    ]);
  }
});

test('NDJSON: bad lines are named by line number, with the field at fault', async () => {
  const text = ['{"ref":"a","text":"x"}', '{"ref":"b",', '', '{"ref":"c","content":"@@@"}', '[1]', '{"ref":"d","text":"x","bogus":1}'].join(
    '\n',
  );
  const { paths, message } = await refusal(collectItems(ndjsonRows(chunked(text)), ndjsonOpts));
  assert.equal(paths.length, 4, paths.join(' | '));
  assert.match(paths[0]!, /^rows\.2: not valid JSON/);
  assert.equal(paths[1], 'rows.4.content: must be base64');
  assert.match(paths[2]!, /^rows\.5: .*expected object/);
  assert.equal(paths[3], 'rows.6.bogus: unknown field');
  assert.match(message, /^the file was refused: row 2: not valid JSON/);
});

test('the line splitter returns every line, whatever the chunking', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.string({ unit: 'binary' }).map((s) => s.replace(/[\r\n]/g, '')),
        { minLength: 1, maxLength: 20 },
      ),
      fc.integer({ min: 1, max: 16 }),
      async (input, size) => {
        const out = await all(lines(chunked(input.join('\n'), size)));
        // A newline ends a line; it does not open an empty last one.
        assert.deepEqual(out, input.at(-1) === '' ? input.slice(0, -1) : input);
      },
    ),
  );
});

/** CSV as a careful client writes it: every cell quoted, quotes doubled. */
const toCsv = (header: string[], rows: string[][]): string =>
  [header, ...rows].map((r) => r.map((c) => `"${c.replace(/"/g, '""')}"`).join(',')).join('\r\n');

test('any items written as CSV read back the same, commas, quotes and newlines included', async () => {
  const cell = fc.string({ minLength: 1, maxLength: 30 });
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.record({ ref: cell, text: cell, colour: cell }), { selector: (i) => i.ref, minLength: 1, maxLength: 20 }),
      async (given) => {
        const csv = toCsv(
          ['ref', 'text', 'colour'],
          given.map((i) => [i.ref, i.text, i.colour]),
        );
        const items = await collectItems(csvRows(chunked(csv, 5)), csvOpts);
        assert.deepEqual(
          items,
          given.map((i) => ({ ref: i.ref, text: i.text, attributes: { colour: i.colour } })),
        );
      },
    ),
    { numRuns: 200 },
  );
});

test('query options validate and default exactly as the JSON body does', () => {
  const query = optionsFromQuery({
    stages: 'classify, ingest',
    chunk_size: '50',
    priority: 'express',
    max_failure_ratio: '0.5',
    metadata: '{"corridor":"MX_US"}',
  });
  const json = SubmitBatch.parse({
    items_text: 'a',
    stages: ['classify', 'ingest'],
    chunk_size: 50,
    priority: 'express',
    max_failure_ratio: 0.5,
    metadata: { corridor: 'MX_US' },
  });
  const { items_text: _, ...jsonOptions } = json;
  assert.deepEqual(query, jsonOptions);
  assert.deepEqual(optionsFromQuery({}), (({ items_text: _t, ...o }) => o)(SubmitBatch.parse({ items_text: 'a' })));
});

test('bad query options are named like body fields', () => {
  const paths = (query: Record<string, string>): string[] => {
    try {
      optionsFromQuery(query);
    } catch (err) {
      return ((err as BatchflowError).details ?? []).map((d) => d.path);
    }
    return assert.fail('expected a refusal');
  };
  assert.deepEqual(paths({ stages: 'publish,classify' }), ['stages']);
  assert.deepEqual(paths({ chunk_size: '501' }), ['chunk_size']);
  assert.deepEqual(paths({ chunk_size: 'ten' }), ['chunk_size']);
  assert.deepEqual(paths({ max_parallel_chunks: '1.5', on_cancel: 'maybe' }), ['max_parallel_chunks', 'on_cancel']);
  assert.deepEqual(paths({ metadata: '{broken' }), ['metadata']);
  assert.deepEqual(paths({ metadata: '[1,2]' }), ['metadata']);
  assert.deepEqual(paths({ callback_url: 'ftp://x.example' }), ['callback_url']);
  assert.deepEqual(paths({ chunksize: '5' }), ['chunksize']);
});

const fakeRequest = (body: Buffer, size: number, headers: Record<string, string> = {}): IncomingMessage =>
  Object.assign(Readable.from(chunked(body, size)), { headers }) as unknown as IncomingMessage;

test('the meter hashes what passes and stops the moment the limit is passed', async () => {
  const body = Buffer.from('x'.repeat(1000));
  const digest = createHash('sha256');
  const seen = Buffer.concat(await all(meteredBody(fakeRequest(body, 64), 1000, digest)));
  assert.equal(seen.length, 1000);
  assert.equal(digest.digest('hex'), createHash('sha256').update(body).digest('hex'));

  let passed = 0;
  await assert.rejects(
    (async () => {
      for await (const chunk of meteredBody(fakeRequest(body, 64), 999, createHash('sha256'))) passed += chunk.length;
    })(),
    (err: BatchflowError) => err.status === 413 && err.code === 'payload_too_large',
  );
  assert.ok(passed <= 999);
  assert.throws(
    () => meteredBody(fakeRequest(body, 64, { 'content-length': '1000' }), 999, createHash('sha256')),
    (err: BatchflowError) => err.status === 413,
  );
});

test('a 50,000-row CSV parses into items without keeping the file', async (t) => {
  const rows = 50_000;
  const text = 'x'.repeat(560);
  let peak = 0;
  let bytes = 0;
  // The parse never waits on a timer, so the peak is sampled as chunks are handed over.
  async function* file(): AsyncGenerator<Buffer> {
    yield Buffer.from('ref,text,origin_country\n');
    for (let i = 0; i < rows; i += 100) {
      const chunk = Buffer.from(Array.from({ length: 100 }, (_, j) => `sku-${i + j},${text} ${i + j},CN\n`).join(''));
      bytes += chunk.length;
      // Right after a forced GC, so the peak is what is live rather than what awaits collection.
      if (i % 5_000 === 0) {
        gc();
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      }
      yield chunk;
    }
  }
  gc();
  const before = process.memoryUsage();
  const started = performance.now();
  const items: Item[] = await collectItems(csvRows(file()), csvOpts);
  const ms = performance.now() - started;
  gc();
  const after = process.memoryUsage();
  assert.equal(items.length, rows);
  assert.deepEqual(items[rows - 1]!.attributes, { origin_country: 'CN' });
  const mb = (n: number): string => (n / 1024 / 1024).toFixed(1);
  t.diagnostic(
    `parsed ${rows} rows (${mb(bytes)} MB of CSV) in ${Math.round(ms)} ms: live heap peak +${mb(peak - before.heapUsed)} MB while parsing, ` +
      `+${mb(after.heapUsed - before.heapUsed)} MB retained after GC (the items, whose text alone is ${mb(rows * text.length)} MB)`,
  );
});
