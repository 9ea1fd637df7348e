/**
 * The chunking a batch gets when the client leaves `chunk_size` or `max_parallel_chunks` out:
 * chosen from the batch's size and the worker's activity slots rather than fixed (issue 15, "fast
 * by default"). A value the client gave always wins; only the missing one is derived.
 *
 * Why these numbers:
 * - A chunk is one activity per stage, and an activity costs about 0.1 s of Temporal round trips
 *   whatever it does: bare Temporal with no-op activities moved 335 items/s at 25 per chunk and
 *   4 in flight, 2,806 items/s at 100 and 8 (bench/results.md). Throughput follows the items in
 *   flight (chunk size × chunks in flight), so a large batch wants big chunks and a full window.
 * - Each stage reads and writes a chunk's item rows in one SQL statement (activities/stages/runner.ts),
 *   so a bigger chunk also means fewer statements per item (about 8 per chunk for three stages).
 * - A chunk runs its stages one after another (workflows/batch/chunk.ts), so a chunk in flight
 *   holds one activity slot: `max_parallel_chunks` is the batch's share of a worker's slots. A
 *   batch takes half of them by default, so a second batch (a key may run 3 at once) still finds
 *   room beside it instead of queueing behind it; more worker processes only add room.
 * - The workflow's history grows by about 13 events a chunk for three stages (the bench's 20,000
 *   items in 200 chunks: 2,665 events, one run). Past 5,000 a run hands over to a new one
 *   (continue-as-new, workflows/batch/workflow.ts), draining its window first: a dip each time.
 *   At most 200 chunks keeps a batch in one run, which is what sets the chunk size of big batches.
 * - A small batch still wants several chunks at once, so it finishes in one round of the window
 *   and spreads over the workers, but not chunks of one or two items, where the round trips are
 *   all there is: no chunk under 10 items unless the batch is smaller.
 *
 * At 32 slots (WORKER_ACTIVITY_SLOTS' default), 16 chunks in flight:
 *
 *   items    chunk_size  chunks  max_parallel_chunks
 *   10       10          1       1
 *   50       10          5       5
 *   1,000    63          16      16
 *   20,000   100         200     16
 *   50,000   250         200     16
 */
import { MAX_CHUNK_SIZE, MAX_PARALLEL_CHUNKS } from '../contracts/http';

/** WORKER_ACTIVITY_SLOTS' default (src/config/env.ts): what the rule assumes when told nothing. */
export const DEFAULT_WORKER_SLOTS = 32;
/** A batch's default share of a worker's slots is 1 / this. */
export const BATCHES_PER_WORKER = 2;
/** Items per chunk past which the round trips are a small part of a chunk's time (at ~0.1 s each). */
export const AMORTIZED_CHUNK_SIZE = 100;
/** The most chunks a default batch gets, so its history stays in one run. */
export const MAX_DEFAULT_CHUNKS = 200;
/** The smallest chunk a default batch gets (unless the batch itself is smaller). */
export const MIN_DEFAULT_CHUNK_SIZE = 10;

export interface Chunking {
  chunkSize: number;
  maxParallelChunks: number;
}

const clamp = (n: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, n));
/** A whole number ≥ 1, whatever came in (0, a fraction, NaN): the rule never answers outside the contract. */
const atLeastOne = (n: number): number => (Number.isFinite(n) && n >= 1 ? Math.floor(n) : 1);

/**
 * The chunking of a batch of `totalItems` on workers with `workerSlots` activity slots each.
 * `given` holds what the client chose; each value given is kept as it is, and the other is derived
 * (a given `max_parallel_chunks` sets how many chunks a small batch is spread over). Deterministic,
 * and always within the contract's ranges (chunk_size 1..500, max_parallel_chunks 1..64).
 */
export function defaultChunking(totalItems: number, workerSlots: number = DEFAULT_WORKER_SLOTS, given: Partial<Chunking> = {}): Chunking {
  const items = atLeastOne(totalItems);
  const window = given.maxParallelChunks ?? clamp(Math.floor(atLeastOne(workerSlots) / BATCHES_PER_WORKER), 1, MAX_PARALLEL_CHUNKS);
  // Big batches: chunks big enough to amortize the round trips, and few enough for one run's history.
  const amortized = Math.max(AMORTIZED_CHUNK_SIZE, Math.ceil(items / MAX_DEFAULT_CHUNKS));
  // Small batches: one chunk per place in the window, but not under the smallest worth a chunk.
  const spread = Math.max(MIN_DEFAULT_CHUNK_SIZE, Math.ceil(items / window));
  const chunkSize = given.chunkSize ?? clamp(Math.min(amortized, spread, items), 1, MAX_CHUNK_SIZE);
  // No wider than the batch has chunks: the window shown is the one the batch can use.
  const maxParallelChunks = given.maxParallelChunks ?? clamp(Math.min(window, Math.ceil(items / chunkSize)), 1, MAX_PARALLEL_CHUNKS);
  return { chunkSize, maxParallelChunks };
}
