/**
 * GET /v1/batches/{id}/export end to end against a real stack: every format of a small batch that
 * really ran (some items failed, some wait for review) agrees with GET …/items; headers, errors and
 * tenant isolation; and a 50,000-item batch streamed in each format while the server's memory is
 * sampled (the stack runs in this process, so process.memoryUsage() sees the server).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import readline from 'node:readline';
import v8 from 'node:v8';
import vm from 'node:vm';
import { parse as parseCsvStream } from 'csv-parse';
import { parse as parseCsv } from 'csv-parse/sync';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { sql } from 'kysely';
import { ulid } from 'ulid';
import type { CoreTier } from '../../activities/stages/classify';
import { emptyCounts, workflowIdFor } from '../../src/contracts/workflow';
import { insertBatch } from '../../src/db/batches';
import { FLAT_COLUMNS } from '../../src/export/columns';
import { PARQUET_ROW_GROUP_ROWS } from '../../src/export/parquet';
import { allItems, submit, type ItemBody } from '../helpers/api';
import { startStack, waitForBatch, type Stack } from '../helpers/stack';

/** A core tier the test steers: "clear…" is decided at once, anything else goes to the fallback. */
const core: CoreTier = {
  classify: (text) => {
    const confidence = text.startsWith('clear') ? 0.95 : 0.5;
    return { label: '6109', confidence, candidates: [{ label: '6109', description: 'T-shirts', confidence }] };
  },
};

/** The fallback refuses "reject…" for good (the item fails) and is unsure of the rest (review). */
const REJECTION = 'refused: "policy", see\nline two';
const fallback = async (text: string) =>
  text.startsWith('reject')
    ? { ok: false as const, retryable: false, message: REJECTION }
    : { ok: true as const, label: '6110', confidence: 0.3 };

/** Refs that CSV must quote or defuse: formulas, quotes, commas, line breaks, non-ASCII. */
const TRICKY_REFS = ['=SUM(A1:A9)', '+1 555', '-minus', '@at', 'comma, "quoted"', 'line\nbreak', 'été ✓'];

const smallItems: Array<{ ref: string; text: string; attributes?: Record<string, unknown> }> = [
  ...TRICKY_REFS.map((ref) => ({ ref, text: `clear ${ref}`, attributes: { origin_country: 'CN', note: 'a, "b"' } })),
  ...Array.from({ length: 7 }, (_, i) => ({ ref: `ok-${i}`, text: `clear shirt ${i}` })),
  ...Array.from({ length: 3 }, (_, i) => ({ ref: `bad-${i}`, text: `reject gadget ${i}` })),
  ...Array.from({ length: 3 }, (_, i) => ({ ref: `review-${i}`, text: `unsure widget ${i}` })),
];

let stack: Stack;
before(async () => {
  stack = await startStack({ classify: { core, coreThreshold: 0.85, fallbackThreshold: 0.7, fallback } });
});
after(() => stack.stop());

const exportOf = (batchId: string, query = '', key?: string) => stack.api(`/v1/batches/${batchId}/export${query}`, { key });

/** An item as GET …/items lists it. */
type Listed = ItemBody & { classification: { label: string; confidence: number; tier: string } | null };

/** What a spreadsheet-safe cell holds for `text` (see src/export/csv.ts). */
const defused = (text: string): string => (/^[=+\-@\t\r]/.test(text) ? `'${text}` : text);

describe('a small batch that ran', () => {
  let batchId: string;
  let expected: Listed[];

  before(async () => {
    batchId = await submit(stack, { items: smallItems, stages: ['classify'], metadata: { collection: 'export-test' } });
    const done = await waitForBatch(stack, batchId);
    assert.equal(done.status, 'partial');
    expected = (await allItems(stack, batchId)) as Listed[];
    assert.equal(expected.length, smallItems.length);
    assert.deepEqual(
      [...new Set(expected.map((i) => i.status))].sort(),
      ['failed', 'needs_review', 'succeeded'],
      'the batch has items in each outcome the export must carry',
    );
  });

  test('csv: the default format; one quoted, formula-safe row per item, equal to the items listing', async () => {
    const res = await exportOf(batchId);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.equal(res.headers.get('content-disposition'), `attachment; filename="${batchId}.csv"`);
    const text = await res.text();
    const rows = parseCsv(text, { columns: true }) as Array<Record<string, string>>;
    assert.deepEqual(
      Object.keys(rows[0]!),
      FLAT_COLUMNS.map((c) => c.name),
    );
    assert.equal(rows.length, expected.length);
    for (const [i, item] of expected.entries()) {
      const row = rows[i]!;
      assert.equal(row.seq, String(i));
      assert.equal(row.ref, defused(item.ref));
      assert.equal(row.status, item.status);
      assert.equal(row.stage, item.stage ?? '');
      const c = item.classification;
      assert.equal(row.classification_label, c?.label ?? '');
      assert.equal(row.classification_confidence, c ? String(c.confidence) : '');
      assert.equal(row.classification_tier, c?.tier ?? '');
      assert.equal(row.error_code, item.error?.code ?? '');
      assert.equal(row.error_message, item.error?.message ?? '');
      assert.equal(row.error_retryable, item.error ? String(item.error.retryable) : '');
    }
    assert.ok(text.includes(`\r\n0,'=SUM(A1:A9),`), 'a formula ref is defused with a leading quote');
    assert.ok(!/(^|,)=SUM/m.test(text), 'no cell starts with =');
    const bad = rows.find((r) => r.ref === 'bad-0')!;
    assert.equal(bad.error_code, 'fallback_rejected');
    assert.equal(bad.error_message, REJECTION, 'quotes, commas and line breaks survive the round trip');
    assert.deepEqual(JSON.parse(rows.find((r) => r.ref === 'comma, "quoted"')!.attributes!), { origin_country: 'CN', note: 'a, "b"' });
  });

  test('ndjson: one item object a line, as GET …/items shows it, plus seq and attributes', async () => {
    const res = await exportOf(batchId, '?format=ndjson');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    assert.equal(res.headers.get('content-disposition'), `attachment; filename="${batchId}.ndjson"`);
    const text = await res.text();
    assert.ok(text.endsWith('\n'));
    const lines = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, expected.length);
    for (const [i, item] of expected.entries()) {
      const { seq, attributes, updated_at, ...rest } = lines[i]!;
      assert.equal(seq, i);
      assert.deepEqual(rest, item, 'the exported item is the listed item');
      assert.deepEqual(attributes, smallItems[i]!.attributes ?? null);
      assert.ok(typeof updated_at === 'string' && !Number.isNaN(Date.parse(updated_at)));
    }
  });

  test('json: one document with the batch and every item', async () => {
    const res = await exportOf(batchId, '?format=json');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.headers.get('content-disposition'), `attachment; filename="${batchId}.json"`);
    const doc = (await res.json()) as {
      batch_id: string;
      status: string;
      total_items: number;
      metadata: unknown;
      exported_at: string;
      items: Array<Record<string, unknown>>;
    };
    assert.equal(doc.batch_id, batchId);
    assert.equal(doc.status, 'partial');
    assert.equal(doc.total_items, smallItems.length);
    assert.deepEqual(doc.metadata, { collection: 'export-test' });
    assert.ok(!Number.isNaN(Date.parse(doc.exported_at)));
    assert.deepEqual(
      doc.items.map(({ seq: _seq, attributes: _a, updated_at: _u, ...rest }) => rest),
      expected,
    );
  });

  test('parquet: reads back with hyparquet, row for row', async () => {
    const res = await exportOf(batchId, '?format=parquet');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/vnd.apache.parquet');
    assert.equal(res.headers.get('content-disposition'), `attachment; filename="${batchId}.parquet"`);
    const file = await res.arrayBuffer();
    const meta = parquetMetadata(file);
    assert.equal(meta.num_rows, BigInt(expected.length));
    assert.equal(meta.key_value_metadata?.find((kv) => kv.key === 'batch_id')?.value, batchId);
    const rows = (await parquetReadObjects({ file })) as Array<Record<string, unknown>>;
    assert.equal(rows.length, expected.length);
    for (const [i, item] of expected.entries()) {
      const row = rows[i]!;
      const c = item.classification;
      assert.equal(row.seq, i);
      assert.equal(row.ref, item.ref, 'parquet keeps refs exactly (no formula guard)');
      assert.equal(row.status, item.status);
      assert.equal(row.stage, item.stage);
      assert.equal(row.classification_label, c?.label ?? null);
      assert.equal(row.classification_confidence, c?.confidence ?? null);
      assert.equal(row.error_code, item.error?.code ?? null);
      assert.equal(row.error_message, item.error?.message ?? null);
      assert.equal(row.error_retryable, item.error?.retryable ?? null);
      assert.deepEqual(row.attributes, smallItems[i]!.attributes ?? null);
      assert.ok(row.updated_at instanceof Date);
    }
  });

  test('an unknown format, or an unknown parameter, is a 400 naming it', async () => {
    for (const [query, path] of [
      ['?format=xlsx', 'format'],
      ['?fmt=csv', 'fmt'],
    ] as const) {
      const res = await exportOf(batchId, query);
      const body = (await res.json()) as { error: { code: string; details: Array<{ path: string }> } };
      assert.equal(res.status, 400);
      assert.equal(body.error.code, 'validation_failed');
      assert.deepEqual(
        body.error.details.map((d) => d.path),
        [path],
      );
    }
  });

  test("another tenant's batch and an unknown batch are 404; no key is 401", async () => {
    const other = await stack.addTenant();
    const theirs = await exportOf(batchId, '?format=csv', other.key);
    assert.equal(theirs.status, 404);
    assert.equal(((await theirs.json()) as { error: { code: string } }).error.code, 'not_found');
    const unknown = await exportOf(`b_${ulid()}`);
    assert.equal(unknown.status, 404);
    assert.equal((await stack.api(`/v1/batches/${batchId}/export`, { key: null })).status, 401);
  });
});

describe('a 50,000-item batch, still running', () => {
  const TOTAL = 50_000;
  const WITH_RESULTS = 45_000;
  const EXPECTED_STATUS = { succeeded: 36_000, failed: 4_500, needs_review: 4_500, pending: 5_000 };
  let batchId: string;

  /** Inserted through the repository; results marked with SQL. The export reads only the database. */
  before(async () => {
    batchId = `b_${ulid()}`;
    const items = Array.from({ length: TOTAL }, (_, i) => ({
      ref: i % 1000 === 0 ? `=HYPERLINK("x", ${i})` : `part-${i}`,
      text: `part number ${i}`,
      content: null,
      contentType: null,
      // About 300 bytes of attributes that neither dictionaries nor snappy shrink much, so the
      // export is large next to any buffering the server might do.
      attributes: {
        origin_country: 'CN',
        note: Array.from({ length: 36 }, (_, k) => (Math.imul(i + 1, 2654435761) ^ Math.imul(k + 1, 40503)) >>> 0)
          .map((n) => n.toString(36).padStart(7, '0'))
          .join(' '),
      },
    }));
    await insertBatch(
      stack.db.db,
      {
        id: batchId,
        tenant_id: stack.tenantId,
        status: 'running',
        priority: 'normal',
        options: '{}',
        metadata: JSON.stringify({ source: 'export-test' }),
        callback_url: null,
        total_items: TOTAL,
        counts: JSON.stringify(emptyCounts(TOTAL)),
        error: null,
        idempotency_key: null,
        request_hash: null,
        workflow_id: workflowIdFor(batchId),
      },
      items,
    );
    await sql`
      insert into item_results (batch_id, seq, ref, status, stage, classification, published_id, error, attempts)
      select batch_id, seq, ref,
             case seq % 10 when 9 then 'failed' when 8 then 'needs_review' else 'succeeded' end,
             'classify',
             jsonb_build_object('label', '6109', 'confidence', 0.5 + (seq % 50) / 100.0, 'tier', 'core', 'cost', 0.001),
             case when seq % 10 < 8 then 'pub-' || seq end,
             case when seq % 10 = 9 then jsonb_build_object('code', 'downstream_rejected', 'message', 'rejected, "no"', 'retryable', false, 'attempts', 1) end,
             1
      from batch_items where batch_id = ${batchId} and seq < ${WITH_RESULTS}`.execute(stack.db.db);
  });

  // A forced full GC separates live memory from garbage not yet collected.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;

  interface Figures {
    bytes: number;
    ms: number;
    peakHeapGrowth: number;
    peakLiveHeapGrowth: number;
    peakRssGrowth: number;
    peakRss: number;
  }

  /**
   * Runs `download` while sampling memory: every 10 ms as it stands (garbage included), and every
   * 250 ms right after a forced GC (what is really held). Growth is from a GC'd baseline.
   */
  async function measured(download: () => Promise<number>): Promise<Figures> {
    gc();
    const base = process.memoryUsage();
    let peakHeap = base.heapUsed;
    let peakLive = base.heapUsed;
    let peakRss = base.rss;
    const fast = setInterval(() => {
      const m = process.memoryUsage();
      peakHeap = Math.max(peakHeap, m.heapUsed);
      peakRss = Math.max(peakRss, m.rss);
    }, 10);
    const slow = setInterval(() => {
      gc();
      peakLive = Math.max(peakLive, process.memoryUsage().heapUsed);
    }, 250);
    const started = performance.now();
    try {
      const bytes = await download();
      return {
        bytes,
        ms: Math.round(performance.now() - started),
        peakHeapGrowth: peakHeap - base.heapUsed,
        peakLiveHeapGrowth: peakLive - base.heapUsed,
        peakRssGrowth: peakRss - base.rss,
        peakRss,
      };
    } finally {
      clearInterval(fast);
      clearInterval(slow);
    }
  }

  const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`;
  const report = (t: { diagnostic(m: string): void }, format: string, f: Figures): void => {
    const line = `${format}: ${TOTAL} rows, ${mb(f.bytes)} in ${f.ms} ms; server+client heap growth peak ${mb(f.peakHeapGrowth)} (live, after GC: ${mb(f.peakLiveHeapGrowth)}); RSS growth peak ${mb(f.peakRssGrowth)} (peak RSS ${mb(f.peakRss)})`;
    t.diagnostic(line);
    console.log(`[export memory] ${line}`);
  };
  /**
   * Loose on purpose: what is live stays about a page or a row group (1–2.5 MB measured) whatever
   * the export's size; the bound only says that the server does not hold the export (as objects it
   * would take several times its size in bytes).
   */
  const assertFlat = (f: Figures): void => {
    assert.ok(f.peakLiveHeapGrowth < f.bytes / 2, `live heap grew ${mb(f.peakLiveHeapGrowth)} for a ${mb(f.bytes)} export`);
  };

  /**
   * The export as a Node stream, on a fresh connection: the setup above blocks the event loop long
   * enough that a kept-alive socket could be closed by the server just as fetch reuses it.
   */
  const download = (format: string): Promise<http.IncomingMessage> =>
    new Promise((resolve, reject) => {
      http
        .get(
          `${stack.baseUrl}/v1/batches/${batchId}/export?format=${format}`,
          { agent: false, headers: { 'x-api-key': stack.key } },
          (res) => {
            assert.equal(res.statusCode, 200);
            resolve(res);
          },
        )
        .on('error', reject);
    });
  const whole = async (format: string): Promise<Buffer> => Buffer.concat(await (await download(format)).toArray());
  const tally = (statuses: Iterable<string>): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const s of statuses) out[s] = (out[s] ?? 0) + 1;
    return out;
  };

  test('csv streams every row in constant memory', { timeout: 300_000 }, async (t) => {
    const statuses: Record<string, number> = {};
    let rows = 0;
    let bytes = 0;
    let defusedRefs = 0;
    const figures = await measured(async () => {
      const input = await download('csv');
      input.on('data', (c: Buffer) => (bytes += c.length));
      for await (const record of input.pipe(parseCsvStream({ columns: true })) as AsyncIterable<Record<string, string>>) {
        assert.equal(record.seq, String(rows));
        statuses[record.status!] = (statuses[record.status!] ?? 0) + 1;
        if (record.ref!.startsWith(`'=HYPERLINK("x", `)) defusedRefs += 1;
        rows += 1;
      }
      return bytes;
    });
    report(t, 'csv', figures);
    assert.equal(rows, TOTAL);
    assert.deepEqual(statuses, EXPECTED_STATUS);
    assert.equal(defusedRefs, TOTAL / 1000);
    assertFlat(figures);
  });

  test('ndjson streams every row in constant memory', { timeout: 300_000 }, async (t) => {
    const statuses: string[] = [];
    let bytes = 0;
    const figures = await measured(async () => {
      const input = await download('ndjson');
      input.on('data', (c: Buffer) => (bytes += c.length));
      for await (const line of readline.createInterface({ input, crlfDelay: Infinity })) {
        const item = JSON.parse(line) as { seq: number; status: string };
        assert.equal(item.seq, statuses.length);
        statuses.push(item.status);
      }
      return bytes;
    });
    report(t, 'ndjson', figures);
    assert.equal(statuses.length, TOTAL);
    assert.deepEqual(tally(statuses), EXPECTED_STATUS);
    assertFlat(figures);
  });

  test('json streams in constant memory and is one valid document', { timeout: 300_000 }, async (t) => {
    const figures = await measured(async () => {
      let bytes = 0;
      for await (const c of await download('json')) bytes += (c as Buffer).length;
      return bytes;
    });
    report(t, 'json', figures);
    assertFlat(figures);
    // Parsed whole outside the measurement: the client holding it is not the server's memory.
    const doc = JSON.parse((await whole('json')).toString('utf8')) as {
      batch_id: string;
      status: string;
      items: Array<{ seq: number; status: string }>;
    };
    assert.equal(doc.batch_id, batchId);
    assert.equal(doc.status, 'running');
    assert.equal(doc.items.length, TOTAL);
    assert.ok(doc.items.every((item, i) => item.seq === i));
    assert.deepEqual(tally(doc.items.map((i) => i.status)), EXPECTED_STATUS);
  });

  test('parquet streams in row groups, in constant memory, and reads back with hyparquet', { timeout: 300_000 }, async (t) => {
    const figures = await measured(async () => {
      let bytes = 0;
      for await (const c of await download('parquet')) bytes += (c as Buffer).length;
      return bytes;
    });
    report(t, 'parquet', figures);
    assertFlat(figures);
    const bytes = await whole('parquet');
    const file = new Uint8Array(bytes).buffer;
    const meta = parquetMetadata(file);
    assert.equal(meta.num_rows, BigInt(TOTAL));
    assert.equal(meta.row_groups.length, Math.ceil(TOTAL / PARQUET_ROW_GROUP_ROWS));
    const rows = (await parquetReadObjects({ file, columns: ['seq', 'status'] })) as Array<{ seq: number; status: string }>;
    assert.equal(rows.length, TOTAL);
    assert.ok(rows.every((r, i) => r.seq === i));
    assert.deepEqual(tally(rows.map((r) => r.status)), EXPECTED_STATUS);
  });

  test('a client that hangs up mid-download leaves the server serving', { timeout: 120_000 }, async () => {
    const res = await download('csv');
    await new Promise((resolve) => res.once('data', resolve));
    res.destroy();
    const again = await whole('ndjson');
    assert.equal(again.toString('utf8').trimEnd().split('\n').length, TOTAL);
  });
});
