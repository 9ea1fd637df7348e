/**
 * The ingest stage end to end, on the real Temporal dev server with the real worker: base64
 * content lands in the fs blob store at the contract's path with the right bytes, text is stored
 * as overlapping chunks, every staged item leaves an audit event, and a rollback removes the
 * batch's records, chunks and blobs except a blob that another batch of the tenant still uses.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { createFsBlobStore, missingBlobStore } from '../../activities/blobs';
import { ingestHandler } from '../../activities/stages/ingest';
import { chunkingFor, chunkText, DEFAULT_CHUNKING } from '../../activities/stages/ingest/chunks';
import type { StageContext } from '../../activities/stages/runner';
import { loadRange } from '../../src/db/items';
import { startPublishTarget } from '../helpers/publish-target';
import { startStack, waitForBatch, type Stack } from '../helpers/stack';

// The failure-ratio test makes retried and failed activities on purpose.
Runtime.install({ logger: new DefaultLogger((process.env.TEST_SDK_LOG_LEVEL as LogLevel | undefined) ?? 'ERROR') });

const TEST_TIMEOUT_MS = 180_000;

const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');
const itemId = (ref: string): string => sha256(ref).slice(0, 16);
const blobPath = (stack: Stack, tenant: string, ref: string, bytes: Buffer): string =>
  path.join(stack.blobDir, 'raw', tenant, itemId(ref), sha256(bytes));

/** Text that is different at every position, so a chunk's place in it is unambiguous. */
const prose = (n: number, seed: string): string => {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `${seed}-${i} `;
  return s.slice(0, n);
};

async function submit(stack: Stack, body: Record<string, unknown>): Promise<string> {
  const res = await stack.api('/v1/batches', { method: 'POST', body: JSON.stringify(body) });
  const json = (await res.json()) as { batch_id: string };
  assert.equal(res.status, 202, JSON.stringify(json));
  return json.batch_id;
}

const doc = (ref: string, bytes: Buffer, extra: Record<string, unknown> = {}) => ({
  ref,
  content: bytes.toString('base64'),
  content_type: 'application/pdf',
  ...extra,
});

async function chunksOf(stack: Stack, batchId: string, ref: string) {
  return stack.db.db
    .selectFrom('staged_chunks')
    .select(['idx', 'text', 'start_char'])
    .where('batch_id', '=', batchId)
    .where('ref', '=', ref)
    .orderBy('idx')
    .execute();
}

async function auditOf(stack: Stack, batchId: string) {
  return stack.db.db
    .selectFrom('audit_events')
    .select(['tenant_id', 'ref', 'action', 'details'])
    .where('batch_id', '=', batchId)
    .orderBy('id')
    .execute();
}

const noCtx = (stack: Stack, batchId: string): StageContext => ({
  batchId,
  tenantId: stack.tenantId,
  signal: new AbortController().signal,
  progress: () => undefined,
});

describe('chunking', () => {
  test('windows of chunk_chars overlapping by chunk_overlap cover the text exactly', () => {
    const text = prose(2_500, 'w');
    const chunks = chunkText(text, { chars: 1_000, overlap: 100 });
    assert.deepEqual(
      chunks.map((c) => c.start),
      [0, 900, 1_800],
    );
    assert.deepEqual(
      chunks.map((c) => c.text.length),
      [1_000, 1_000, 700],
    );
    for (const c of chunks) assert.equal(c.text, text.slice(c.start, c.start + 1_000));
    assert.deepEqual(
      chunkText('short', { chars: 1_000, overlap: 100 }).map((c) => c.text),
      ['short'],
    );
    assert.deepEqual(chunkText('', { chars: 1_000, overlap: 100 }), []);
    // Exactly one chunk's worth is one chunk, not a second one made of overlap alone.
    assert.equal(chunkText('x'.repeat(1_000), { chars: 1_000, overlap: 100 }).length, 1);
  });

  test('positions count characters, so a window never splits one', () => {
    const text = '😀'.repeat(25);
    const chunks = chunkText(text, { chars: 10, overlap: 2 });
    assert.deepEqual(
      chunks.map((c) => [c.start, Array.from(c.text).length]),
      [
        [0, 10],
        [8, 10],
        [16, 9],
      ],
    );
    assert.ok(
      chunks.every((c) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(c.text)),
      'no lone surrogate',
    );
  });

  test("a batch's metadata overrides the defaults; unusable values fail the call for good", () => {
    assert.deepEqual(chunkingFor({}, DEFAULT_CHUNKING), DEFAULT_CHUNKING);
    assert.deepEqual(chunkingFor({ chunk_chars: 400, chunk_overlap: 50 }, DEFAULT_CHUNKING), { chars: 400, overlap: 50 });
    assert.deepEqual(chunkingFor({ chunk_chars: 120 }, DEFAULT_CHUNKING), { chars: 120, overlap: 60 });
    for (const bad of [
      { chunk_chars: 0 },
      { chunk_chars: '500' },
      { chunk_chars: 100, chunk_overlap: 100 },
      { chunk_overlap: -1 },
      { chunk_chars: 10.5 },
    ]) {
      assert.throws(
        () => chunkingFor(bad, DEFAULT_CHUNKING),
        (err: unknown) => err instanceof ApplicationFailure && err.type === 'ValidationError' && err.nonRetryable,
        JSON.stringify(bad),
      );
    }
  });
});

test(
  'ingest writes each content at raw/{tenant}/{item_id}/{sha256}, chunks text, audits every item, and repeats as a no-op',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const stack = await startStack();
    try {
      const pdf = randomBytes(48 * 1024);
      const memo = Buffer.from('memo body, stored as given');
      const longText = prose(2_500, 'spec');
      const batchItems = [
        doc('invoice-7.pdf', pdf),
        doc('spec.pdf', memo, { text: longText, attributes: { lang: 'en' } }),
        { ref: 'note-1', text: prose(300, 'note') },
        // The same bytes under another ref: another item, so another folder.
        doc('invoice-7-copy.pdf', pdf),
      ];
      const batchId = await submit(stack, {
        items: batchItems,
        stages: ['ingest'],
        chunk_size: 3,
        metadata: { chunk_chars: 400, chunk_overlap: 50 },
      });
      const ended = await waitForBatch(stack, batchId);
      assert.equal(ended.status, 'completed', JSON.stringify(ended));
      assert.equal(ended.counts.ingested, batchItems.length);

      // Blobs: at the contract path, with exactly the submitted bytes.
      for (const [ref, bytes] of [
        ['invoice-7.pdf', pdf],
        ['spec.pdf', memo],
        ['invoice-7-copy.pdf', pdf],
      ] as const) {
        const file = blobPath(stack, stack.tenantId, ref, bytes);
        assert.ok(fs.existsSync(file), `${ref} is at ${path.relative(stack.blobDir, file)}`);
        assert.ok(fs.readFileSync(file).equals(bytes), `${ref}'s blob holds its bytes`);
      }
      const files = fs.readdirSync(stack.blobDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
      assert.equal(files.length, 3, 'one blob per item with content, no temporary files');

      // Records: the blob's key, hash and size, and what the item had.
      const rows = await stack.db.db.selectFrom('staged_items').selectAll().where('batch_id', '=', batchId).orderBy('seq').execute();
      assert.deepEqual(
        rows.map((r) => r.ref),
        batchItems.map((i) => i.ref),
      );
      const byRef = new Map(rows.map((r) => [r.ref, r]));
      const spec = byRef.get('spec.pdf')!;
      assert.equal(spec.tenant_id, stack.tenantId);
      assert.equal(spec.item_id, itemId('spec.pdf'));
      assert.equal(spec.blob_key, `raw/${stack.tenantId}/${itemId('spec.pdf')}/${sha256(memo)}`);
      assert.equal(spec.content_sha256, sha256(memo));
      assert.equal(spec.content_size, memo.length);
      assert.equal(spec.content_type, 'application/pdf');
      assert.equal(spec.text, longText);
      assert.deepEqual(spec.attributes, { lang: 'en' });
      const note = byRef.get('note-1')!;
      assert.equal(note.item_id, itemId('note-1'));
      assert.equal(note.blob_key, null);
      assert.equal(note.content_sha256, null);
      assert.equal(byRef.get('invoice-7.pdf')!.content_sha256, byRef.get('invoice-7-copy.pdf')!.content_sha256);
      assert.notEqual(byRef.get('invoice-7.pdf')!.blob_key, byRef.get('invoice-7-copy.pdf')!.blob_key);

      // Chunks, by the batch's metadata (400 characters, 50 of overlap): 1 + ceil((2500 - 400) / 350) = 7.
      const chunks = await chunksOf(stack, batchId, 'spec.pdf');
      assert.equal(chunks.length, 7);
      assert.deepEqual(
        chunks.map((c) => c.start_char),
        [0, 350, 700, 1_050, 1_400, 1_750, 2_100],
      );
      for (const [i, c] of chunks.entries()) {
        assert.equal(c.idx, i);
        assert.equal(c.text, longText.slice(c.start_char, c.start_char + 400));
        if (i > 0)
          assert.equal(c.text.slice(0, 50), chunks[i - 1]!.text.slice(-50), `chunk ${i} repeats the last 50 characters of chunk ${i - 1}`);
      }
      assert.equal(chunks.map((c, i) => (i === 0 ? c.text : c.text.slice(50))).join(''), longText, 'the chunks cover the text');
      assert.deepEqual(
        (await chunksOf(stack, batchId, 'note-1')).map((c) => c.text),
        [prose(300, 'note')],
      );
      assert.deepEqual(await chunksOf(stack, batchId, 'invoice-7.pdf'), [], 'no text, no chunks');

      // One audit event per item, with what was stored.
      const audit = await auditOf(stack, batchId);
      assert.deepEqual(audit.map((a) => [a.ref, a.action]).sort(), batchItems.map((i) => [i.ref, 'ingested']).sort());
      const specEvent = audit.find((a) => a.ref === 'spec.pdf')!;
      assert.equal(specEvent.tenant_id, stack.tenantId);
      assert.deepEqual(specEvent.details, { sha256: sha256(memo), size: memo.length, blob_key: spec.blob_key, chunks: 7 });
      assert.deepEqual(audit.find((a) => a.ref === 'note-1')!.details, { sha256: null, size: null, blob_key: null, chunks: 1 });

      // The stage again over the same items (a retried call): same records and chunks, no new event.
      const before = {
        rows,
        chunks: await stack.db.db.selectFrom('staged_chunks').selectAll().where('batch_id', '=', batchId).orderBy(['ref', 'idx']).execute(),
      };
      const again = ingestHandler(stack.db.db, { blobs: createFsBlobStore(stack.blobDir), chunking: DEFAULT_CHUNKING });
      const results = await again(await loadRange(stack.db.db, batchId, { from: 0, to: batchItems.length }), noCtx(stack, batchId));
      assert.ok(results.length === batchItems.length && results.every((r) => 'ok' in r && r.ok), JSON.stringify(results));
      assert.deepEqual(
        await stack.db.db.selectFrom('staged_items').selectAll().where('batch_id', '=', batchId).orderBy('seq').execute(),
        before.rows,
      );
      assert.deepEqual(
        await stack.db.db.selectFrom('staged_chunks').selectAll().where('batch_id', '=', batchId).orderBy(['ref', 'idx']).execute(),
        before.chunks,
      );
      assert.equal((await auditOf(stack, batchId)).length, batchItems.length, 'a repeat that changes nothing audits nothing');

      // Without a blob store, content cannot be ingested: the call fails for good, saying why.
      const storeless = ingestHandler(stack.db.db, { blobs: missingBlobStore(), chunking: DEFAULT_CHUNKING });
      await assert.rejects(
        storeless(await loadRange(stack.db.db, batchId, { from: 0, to: 1 }), noCtx(stack, batchId)),
        (err: unknown) => err instanceof ApplicationFailure && err.type === 'BlobStoreMissing' && err.nonRetryable,
      );
    } finally {
      await stack.stop();
    }
  },
);

test(
  'a rollback removes the batch’s records, chunks and blobs, but keeps a blob another batch of the tenant still uses',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const target = await startPublishTarget({ rejectRefs: new Set(['zz-rejected']) });
    const stack = await startStack({ publishUrl: target.url });
    try {
      const shared = randomBytes(10 * 1024);
      const contractV1 = Buffer.from('contract, first version');
      const contractV2 = Buffer.from('contract, second version');
      const own = randomBytes(4 * 1024);

      // A batch that completes, and keeps what it staged.
      const kept = await submit(stack, {
        items: [doc('shared.pdf', shared, { text: prose(1_500, 'shared') }), doc('contract.pdf', contractV1)],
        stages: ['ingest'],
      });
      assert.equal((await waitForBatch(stack, kept)).status, 'completed');

      // A batch with the same ref and bytes, the same ref with other bytes, its own items, and one
      // the target rejects last: with no failure allowed, the batch fails and rolls back everything.
      const rolled = await submit(stack, {
        items: [
          doc('shared.pdf', shared, { text: prose(1_500, 'shared') }),
          doc('contract.pdf', contractV2),
          doc('own.pdf', own, { text: prose(2_000, 'own') }),
          { ref: 'note', text: prose(500, 'note') },
          { ref: 'zz-rejected', text: 'the target refuses this one' },
        ],
        stages: ['ingest', 'publish'],
        chunk_size: 2,
        max_parallel_chunks: 1,
        max_failure_ratio: 0,
      });
      const ended = await waitForBatch(stack, rolled);
      assert.equal(ended.status, 'failed', JSON.stringify(ended));
      assert.equal(ended.rolled_back, true, JSON.stringify(ended));

      // Nothing of the rolled-back batch is staged or chunked.
      assert.deepEqual(await stack.db.db.selectFrom('staged_items').select('ref').where('batch_id', '=', rolled).execute(), []);
      assert.deepEqual(await stack.db.db.selectFrom('staged_chunks').select('ref').where('batch_id', '=', rolled).execute(), []);

      // Its own blobs are gone, with their folders; the blob the kept batch also uses is not.
      assert.equal(fs.existsSync(blobPath(stack, stack.tenantId, 'own.pdf', own)), false);
      assert.equal(fs.existsSync(path.dirname(blobPath(stack, stack.tenantId, 'own.pdf', own))), false, 'an emptied folder goes too');
      assert.equal(fs.existsSync(blobPath(stack, stack.tenantId, 'contract.pdf', contractV2)), false);
      assert.ok(fs.readFileSync(blobPath(stack, stack.tenantId, 'shared.pdf', shared)).equals(shared), 'the shared blob stays, whole');
      assert.ok(
        fs.readFileSync(blobPath(stack, stack.tenantId, 'contract.pdf', contractV1)).equals(contractV1),
        'the other version of the same ref stays',
      );

      // The kept batch is untouched.
      assert.deepEqual(
        (await stack.db.db.selectFrom('staged_items').select('ref').where('batch_id', '=', kept).orderBy('ref').execute()).map(
          (r) => r.ref,
        ),
        ['contract.pdf', 'shared.pdf'],
      );
      assert.equal((await chunksOf(stack, kept, 'shared.pdf')).length, 2);

      // Each item staged was audited twice: ingested, then unstaged (saying whether its blob went).
      const audit = await auditOf(stack, rolled);
      const actions = (ref: string): string[] => audit.filter((a) => a.ref === ref).map((a) => a.action);
      for (const ref of ['shared.pdf', 'contract.pdf', 'own.pdf', 'note', 'zz-rejected'])
        assert.deepEqual(actions(ref), ['ingested', 'unstaged'], ref);
      const unstaged = (ref: string) => audit.find((a) => a.ref === ref && a.action === 'unstaged')!.details;
      assert.equal(unstaged('shared.pdf').blob_deleted, false);
      assert.equal(unstaged('shared.pdf').chunks, 2);
      assert.equal(unstaged('own.pdf').blob_deleted, true);
      assert.equal(unstaged('contract.pdf').blob_deleted, true);
      assert.equal(unstaged('note').blob_key, null);
      assert.equal(
        (await auditOf(stack, kept)).every((a) => a.action === 'ingested'),
        true,
      );
    } finally {
      await stack.stop();
      await target.close();
    }
  },
);
