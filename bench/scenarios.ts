/**
 * The bench's scenarios, in the order they run: the peers first (bare Temporal, BullMQ), while
 * batchflow's processes are not yet started and so take no CPU, then batchflow, then `npm start`'s
 * embedded stack (a process of its own per scenario). `--scenarios=`
 * picks by name from all of them; `baseline` (or `bare`) stands for every bare row of the run.
 */

export interface Chunking {
  chunkSize: number;
  maxParallel: number;
}

export type Scenario =
  | { kind: 'bare'; name: string; items: number; chunking: Chunking }
  /** `work`: the stages do batchflow's per-item work (bench/bullmq-work.ts); else nothing, beside bare Temporal. */
  | { kind: 'bullmq'; name: string; items: number; work?: boolean }
  /** `chunking` undefined: submitted without chunk_size and max_parallel_chunks, at batchflow's defaults. */
  | { kind: 'batchflow'; name: string; items: number; publishDelayMs: number; chunking?: Chunking }
  /** What `npm start` runs (src/main/start.ts) as one child of its own, at the defaults: its memory, and its dev server's. */
  | { kind: 'embedded'; name: string; items: number; publishDelayMs: number; chunking?: undefined };

/** The chunking the flat-scaling figures have always used; the bare baseline also runs at the old defaults, 25 / 4. */
const AT_100_8: Chunking = { chunkSize: 100, maxParallel: 8 };
const AT_25_4: Chunking = { chunkSize: 25, maxParallel: 4 };

export const FULL: Scenario[] = [
  { kind: 'bare', name: 'bare1k', items: 1_000, chunking: AT_100_8 },
  { kind: 'bare', name: 'bare20k', items: 20_000, chunking: AT_100_8 },
  { kind: 'bare', name: 'bare50k', items: 50_000, chunking: AT_100_8 },
  { kind: 'bare', name: 'bare20k-25x4', items: 20_000, chunking: AT_25_4 },
  { kind: 'bullmq', name: 'bullmq20k', items: 20_000 },
  { kind: 'bullmq', name: 'bullmq20k-work', items: 20_000, work: true },
  { kind: 'batchflow', name: 'a20k-defaults', items: 20_000, publishDelayMs: 0 },
  { kind: 'batchflow', name: 'a1k', items: 1_000, publishDelayMs: 0, chunking: AT_100_8 },
  { kind: 'batchflow', name: 'a20k', items: 20_000, publishDelayMs: 0, chunking: AT_100_8 },
  { kind: 'batchflow', name: 'a50k', items: 50_000, publishDelayMs: 0, chunking: AT_100_8 },
  { kind: 'batchflow', name: 'b20k', items: 20_000, publishDelayMs: 50, chunking: AT_100_8 },
  { kind: 'embedded', name: 'npm-start20k', items: 20_000, publishDelayMs: 0 },
];

/** CI's `--quick`: every kind of row, small, so no path rots (about a minute and a half here). */
export const QUICK: Scenario[] = [
  { kind: 'bare', name: 'bare1k', items: 1_000, chunking: AT_100_8 },
  { kind: 'bare', name: 'bare2k', items: 2_000, chunking: AT_100_8 },
  { kind: 'bare', name: 'bare1k-25x4', items: 1_000, chunking: AT_25_4 },
  { kind: 'bullmq', name: 'bullmq1k', items: 1_000 },
  { kind: 'bullmq', name: 'bullmq1k-work', items: 1_000, work: true },
  { kind: 'batchflow', name: 'a1k-defaults', items: 1_000, publishDelayMs: 0 },
  { kind: 'batchflow', name: 'a1k', items: 1_000, publishDelayMs: 0, chunking: AT_100_8 },
  { kind: 'batchflow', name: 'a2k', items: 2_000, publishDelayMs: 0, chunking: AT_100_8 },
  { kind: 'embedded', name: 'npm-start1k', items: 1_000, publishDelayMs: 0 },
];

/** What `--profile` runs when no batchflow scenario is named: 20,000 items at batchflow's defaults. */
export const PROFILED = { full: 'a20k-defaults', quick: 'a1k-defaults' };

const ALIASES = ['baseline', 'bare'];

/** The scenarios `picked` names (in the run's order), or the whole list; throws on a name it does not know. */
export function choose(picked: string[] | undefined, quick: boolean): Scenario[] {
  const list = quick ? QUICK : FULL;
  if (!picked) return list;
  const all = [...FULL, ...QUICK.filter((q) => !FULL.some((f) => f.name === q.name))];
  const unknown = picked.filter((p) => !ALIASES.includes(p) && !all.some((s) => s.name === p));
  if (unknown.length > 0)
    throw new Error(`unknown scenarios: ${unknown.join(', ')} (choose from ${[...all.map((s) => s.name), ...ALIASES].join(', ')})`);
  const bare = picked.some((p) => ALIASES.includes(p));
  const chosen = all.filter((s) => picked.includes(s.name) || (bare && s.kind === 'bare' && list.some((l) => l.name === s.name)));
  // Peers before batchflow, as in the lists above; the embedded stack last.
  const rank = { bare: 0, bullmq: 1, batchflow: 2, embedded: 3 };
  return chosen.sort((a, b) => rank[a.kind] - rank[b.kind]);
}

export const describeChunking = (c: Chunking): string => `${c.chunkSize} / ${c.maxParallel}`;
