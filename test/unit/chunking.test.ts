/**
 * The default chunking (src/batches/chunking.ts): within the contract's ranges whatever it is
 * given, growing with the batch, never wider than a worker's slots, and a value the client gave
 * kept as it is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { defaultChunking, DEFAULT_WORKER_SLOTS, MAX_DEFAULT_CHUNKS } from '../../src/batches/chunking';
import { MAX_CHUNK_SIZE, MAX_ITEMS, MAX_PARALLEL_CHUNKS } from '../../src/contracts/http';

const chunksOf = (items: number, chunkSize: number): number => Math.ceil(items / chunkSize);

test('the documented examples at 32 slots (docs/api.md)', () => {
  const rows = [10, 50, 1_000, 20_000, 50_000].map((n) => {
    const c = defaultChunking(n, 32);
    return [n, c.chunkSize, chunksOf(n, c.chunkSize), c.maxParallelChunks];
  });
  assert.deepEqual(rows, [
    [10, 10, 1, 1],
    [50, 10, 5, 5],
    [1_000, 63, 16, 16],
    [20_000, 100, 200, 16],
    [50_000, 250, 200, 16],
  ]);
  assert.deepEqual(defaultChunking(20_000), defaultChunking(20_000, DEFAULT_WORKER_SLOTS), 'no slots given: the shipped 32');
});

test('always within the contract: chunk_size 1..500, max_parallel_chunks 1..64, whole numbers', () => {
  fc.assert(
    fc.property(fc.integer({ min: -5, max: 200_000 }), fc.oneof(fc.integer({ min: -5, max: 1_000 }), fc.double()), (items, slots) => {
      const { chunkSize, maxParallelChunks } = defaultChunking(items, slots);
      assert.ok(Number.isInteger(chunkSize) && chunkSize >= 1 && chunkSize <= MAX_CHUNK_SIZE, `chunk_size ${chunkSize}`);
      assert.ok(Number.isInteger(maxParallelChunks) && maxParallelChunks >= 1 && maxParallelChunks <= MAX_PARALLEL_CHUNKS);
    }),
    { numRuns: 2_000 },
  );
  assert.deepEqual(defaultChunking(0, 32), { chunkSize: 1, maxParallelChunks: 1 });
  assert.deepEqual(defaultChunking(10_000_000, 10_000), { chunkSize: MAX_CHUNK_SIZE, maxParallelChunks: MAX_PARALLEL_CHUNKS });
});

test('chunk_size never shrinks as the batch grows, and a batch up to the contract’s size stays within 200 chunks', () => {
  for (const slots of [1, 2, 8, 32, 100]) {
    let previous = 0;
    for (let n = 1; n <= MAX_ITEMS; n += n < 2_000 ? 1 : 97) {
      const { chunkSize } = defaultChunking(n, slots);
      assert.ok(chunkSize >= previous, `${n} items at ${slots} slots: ${chunkSize} after ${previous}`);
      assert.ok(chunkSize <= n, `${n} items: a chunk no bigger than the batch`);
      assert.ok(chunksOf(n, chunkSize) <= MAX_DEFAULT_CHUNKS, `${n} items: ${chunksOf(n, chunkSize)} chunks`);
      previous = chunkSize;
    }
  }
});

test('the window takes half a worker’s slots at most, and no more chunks than the batch has', () => {
  for (const slots of [1, 2, 3, 8, 16, 32, 64, 128, 1_000]) {
    for (const n of [1, 7, 50, 333, 1_000, 20_000, 50_000]) {
      const c = defaultChunking(n, slots);
      assert.ok(c.maxParallelChunks <= Math.max(1, Math.floor(slots / 2)), `${slots} slots: ${c.maxParallelChunks} in flight`);
      assert.ok(c.maxParallelChunks <= chunksOf(n, c.chunkSize));
    }
  }
  assert.equal(defaultChunking(20_000, 8).maxParallelChunks, 4);
  assert.equal(defaultChunking(20_000, 1).maxParallelChunks, 1, 'one slot: one chunk at a time');
  assert.equal(defaultChunking(20_000, 500).maxParallelChunks, MAX_PARALLEL_CHUNKS);
});

test('a small batch is spread over the window, in chunks of at least 10 items', () => {
  const c = defaultChunking(400, 32);
  assert.deepEqual(c, { chunkSize: 25, maxParallelChunks: 16 });
  assert.equal(defaultChunking(400, 8).chunkSize, 100, 'fewer slots: fewer, bigger chunks');
  assert.equal(defaultChunking(12, 32).chunkSize, 10);
  assert.equal(defaultChunking(3, 32).chunkSize, 3, 'a batch under 10 items is one chunk');
});

test('explicit values win; only the missing one is derived', () => {
  assert.deepEqual(defaultChunking(20_000, 32, { chunkSize: 7, maxParallelChunks: 3 }), { chunkSize: 7, maxParallelChunks: 3 });
  // A given chunk size: the window is derived for it, still bounded by the slots.
  assert.deepEqual(defaultChunking(20_000, 32, { chunkSize: 500 }), { chunkSize: 500, maxParallelChunks: 16 });
  assert.deepEqual(defaultChunking(200, 32, { chunkSize: 1 }), { chunkSize: 1, maxParallelChunks: 16 });
  assert.deepEqual(defaultChunking(30, 32, { chunkSize: 10 }), { chunkSize: 10, maxParallelChunks: 3 });
  // A given window: the chunk size spreads a small batch over that window instead of the default one.
  assert.deepEqual(defaultChunking(1_000, 32, { maxParallelChunks: 4 }), { chunkSize: 100, maxParallelChunks: 4 });
  assert.deepEqual(defaultChunking(1_000, 32, { maxParallelChunks: 64 }), { chunkSize: 16, maxParallelChunks: 64 });
  assert.deepEqual(defaultChunking(20_000, 32, { maxParallelChunks: 1 }), { chunkSize: 100, maxParallelChunks: 1 });
  // Undefined is "not given", as a left-out option arrives.
  assert.deepEqual(defaultChunking(50, 32, { chunkSize: undefined, maxParallelChunks: undefined }), defaultChunking(50, 32));
});

test('deterministic: the same batch and slots, the same answer', () => {
  for (const n of [1, 99, 12_345, 50_000]) assert.deepEqual(defaultChunking(n, 24), defaultChunking(n, 24));
});
