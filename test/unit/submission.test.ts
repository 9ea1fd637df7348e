import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SubmitBatch, refsFromText, MAX_ITEMS } from '../../src/contracts/http';
import { toSubmission } from '../../src/batches';
import { detailsFromZod } from '../../src/api/validate';

const parse = (body: unknown) => SubmitBatch.safeParse(body);

test('defaults fill every option the client left out but the chunking, which submit chooses for the batch', () => {
  const r = parse({ items: [{ ref: 'a', text: 'x' }] });
  assert.ok(r.success);
  const s = toSubmission(r.data);
  assert.ok(s.ok);
  assert.deepEqual(s.value.options, {
    stages: ['classify', 'ingest', 'publish'],
    chunkSize: undefined,
    maxParallelChunks: undefined,
    priority: 'normal',
    onCancel: 'keep',
    maxFailureRatio: 1,
  });
});

test('every failing path is listed, with unknown fields and missing refs named', () => {
  const r = parse({ items: [{ text: 'x' }, { ref: 'b' }, { ref: 'c', text: 1 }], chunk_size: 0, bogus: true });
  assert.ok(!r.success);
  const details = detailsFromZod(r.error);
  const paths = details.map((d) => `${d.path}:${d.issue}`);
  assert.ok(paths.includes('items.0.ref:required'), paths.join(' | '));
  assert.ok(
    paths.some((p) => p.startsWith('items.1.text:')),
    'an item with neither text nor content is named',
  );
  assert.ok(
    paths.some((p) => p.startsWith('items.2.text:')),
    'a wrong type is named',
  );
  assert.ok(paths.some((p) => p.startsWith('chunk_size:')));
  assert.ok(paths.includes('bogus:unknown field'));
});

test('stages must be a non-empty subset in pipeline order', () => {
  assert.ok(parse({ items_text: 'a', stages: ['classify', 'publish'] }).success);
  assert.ok(!parse({ items_text: 'a', stages: ['publish', 'classify'] }).success);
  assert.ok(!parse({ items_text: 'a', stages: ['ingest', 'ingest'] }).success);
  assert.ok(!parse({ items_text: 'a', stages: [] }).success);
});

test('more than the maximum number of items is refused', () => {
  const items = Array.from({ length: MAX_ITEMS + 1 }, (_, i) => ({ ref: `r${i}`, text: 't' }));
  const r = parse({ items });
  assert.ok(!r.success);
  assert.equal(detailsFromZod(r.error)[0]!.path, 'items');
});

test('items and items_text together, or neither, is an error', () => {
  assert.ok(!parse({ items: [{ ref: 'a', text: 'x' }], items_text: 'b' }).success);
  assert.ok(!parse({}).success);
});

test('content must be base64', () => {
  assert.ok(parse({ items: [{ ref: 'a', content: 'aGVsbG8=' }] }).success);
  assert.ok(!parse({ items: [{ ref: 'a', content: 'not base64!' }] }).success);
});

test('duplicate refs are each named, with the first occurrence', () => {
  const r = parse({
    items: [
      { ref: 'a', text: 'x' },
      { ref: 'b', text: 'x' },
      { ref: 'a', text: 'y' },
      { ref: 'b', text: 'z' },
    ],
  });
  assert.ok(r.success);
  const s = toSubmission(r.data);
  assert.ok(!s.ok);
  assert.deepEqual(
    s.problems.map((p) => p.path),
    ['items.2.ref', 'items.3.ref'],
  );
  assert.match(s.problems[0]!.issue, /duplicate ref "a" \(first at items.0\)/);
});

test('items_text splits on newlines, commas, semicolons and tabs', () => {
  assert.deepEqual(refsFromText('A-1\nB-2, C-3;D-4\tE-5\r\n\n'), { refs: ['A-1', 'B-2', 'C-3', 'D-4', 'E-5'], more: false });
  const r = parse({ items_text: 'P1,P2;P1' });
  assert.ok(r.success);
  const s = toSubmission(r.data);
  assert.ok(!s.ok);
  assert.equal(s.problems[0]!.path, 'items_text.2');
});

test('items_text made only of separators has no refs', () => {
  const r = parse({ items_text: ' , ;\n' });
  assert.ok(r.success);
  const s = toSubmission(r.data);
  assert.ok(!s.ok);
});

test('items_text is counted while it is split: past MAX_ITEMS refs it is refused without building them', () => {
  assert.deepEqual(refsFromText('a,b,c,d', 2), { refs: ['a', 'b'], more: true });
  assert.deepEqual(refsFromText('a,b,,', 2), { refs: ['a', 'b'], more: false });
  const r = parse({ items_text: 'P1,'.repeat(MAX_ITEMS + 1) });
  assert.ok(r.success);
  const s = toSubmission(r.data);
  assert.ok(!s.ok);
  assert.deepEqual(s.problems, [{ path: 'items_text', issue: `holds more than ${MAX_ITEMS} refs` }]);
});

test('a refusal lists at most 100 problems, then how many were left out', () => {
  const r = parse({ items_text: 'same,'.repeat(5_000) });
  assert.ok(r.success);
  const s = toSubmission(r.data);
  assert.ok(!s.ok);
  assert.equal(s.problems.length, 101);
  assert.deepEqual(s.problems[100], { path: '', issue: '4899 more problems left out' });
});

test('metadata and attributes are at most 16 KiB serialized', () => {
  const big = { note: 'x'.repeat(16 * 1024) };
  const meta = toSubmission(parse({ items_text: 'a', metadata: big }).data!);
  assert.ok(!meta.ok);
  assert.equal(meta.problems[0]!.path, 'metadata');
  const attrs = toSubmission(
    parse({
      items: [
        { ref: 'a', text: 'x' },
        { ref: 'b', text: 'y', attributes: big },
      ],
    }).data!,
  );
  assert.ok(!attrs.ok);
  assert.equal(attrs.problems[0]!.path, 'items.1.attributes');
  const fits = toSubmission(parse({ items: [{ ref: 'a', text: 'x', attributes: { note: 'x'.repeat(16 * 1024 - 20) } }] }).data!);
  assert.ok(fits.ok, 'just under the bound is fine');
});
