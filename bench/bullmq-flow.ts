/**
 * The BullMQ peer: the per-item flow a Node user would otherwise write for classify → ingest →
 * publish. Three queues, one job per item per stage, a Worker per queue with concurrency 8; each
 * stage runs its `Stages` function on the item and then adds the item's job to the next queue.
 * Items go in with addBulk, as a producer would. Two sets of stages: NO_OP, the same nothing as
 * the bare Temporal baseline's activities (bench/baseline-activities.ts), and the per-item work
 * batchflow's stages do (bench/bullmq-work.ts). The bench runs it in a child process of its own
 * (bench/bullmq-main.ts) so its RSS is its own.
 */
import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import type { BenchItem } from './items';
import { percentile } from './measure';

/** An item on its way through the queues: the bench's item, with its classification once classify has run. */
export interface Item extends BenchItem {
  classification?: { label: string; confidence: number };
}

/** What each stage does to an item before it goes on to the next queue. */
export interface Stages {
  classify(item: Item): Promise<Item>;
  ingest(item: Item): Promise<Item>;
  publish(item: Item): Promise<void>;
}

/** Nothing: handing the item on is the whole flow (the orchestration peer of bare Temporal). */
export const NO_OP: Stages = { classify: async (item) => item, ingest: async (item) => item, publish: async () => undefined };

export interface FlowResult {
  items: number;
  wallMs: number;
  /** Items that reached the end of publish once, and more than once. */
  published: number;
  duplicates: number;
  /** Jobs left in any queue (waiting, active, delayed, failed) when the last item was published. */
  leftOver: number;
  /** Progress reads under load: the three queues' job counts, as a dashboard would poll them. */
  progress: { p50: number; p99: number; n: number };
}

const CONCURRENCY = 8;
/** Completed jobs are removed at once (20,000 × 3 of them would only fill Redis); a few failures are kept to look at. */
const JOB_OPTIONS = { removeOnComplete: true, removeOnFail: 1_000 };
const PROGRESS_EVERY_MS = 250;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Jobs still waiting, active, delayed or failed in `queues`. */
async function jobsLeft(queues: Queue[]): Promise<number> {
  let left = 0;
  for (const q of queues) for (const n of Object.values(await q.getJobCounts('waiting', 'active', 'delayed', 'failed'))) left += n;
  return left;
}

export async function runFlow(connection: ConnectionOptions, items: Item[], stages: Stages = NO_OP): Promise<FlowResult> {
  const classify = new Queue<Item>('classify', { connection, defaultJobOptions: JOB_OPTIONS });
  const ingest = new Queue<Item>('ingest', { connection, defaultJobOptions: JOB_OPTIONS });
  const publish = new Queue<Item>('publish', { connection, defaultJobOptions: JOB_OPTIONS });
  const queues = [classify, ingest, publish];
  const seen = new Map<string, number>();
  let allPublished: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (allPublished = resolve));

  const workers = [
    new Worker<Item>(
      'classify',
      async (job) => {
        await ingest.add('ingest', await stages.classify(job.data));
      },
      { connection, concurrency: CONCURRENCY },
    ),
    new Worker<Item>(
      'ingest',
      async (job) => {
        await publish.add('publish', await stages.ingest(job.data));
      },
      { connection, concurrency: CONCURRENCY },
    ),
    new Worker<Item>(
      'publish',
      async (job) => {
        await stages.publish(job.data);
        seen.set(job.data.ref, (seen.get(job.data.ref) ?? 0) + 1);
        if (seen.size === items.length) allPublished();
      },
      { connection, concurrency: CONCURRENCY },
    ),
  ];
  // A job that fails (one attempt, as JOB_OPTIONS leave it) would never reach publish: stop at once, not at the deadline.
  let failure: Error | undefined;
  for (const w of workers)
    w.on('failed', (job, err) => {
      failure ??= new Error(`${w.name} job for ${job?.data.ref ?? '?'} failed: ${err.message}`);
      allPublished();
    });
  try {
    await Promise.all([...queues, ...workers].map((q) => q.waitUntilReady()));
    const t0 = performance.now();
    await classify.addBulk(items.map((data) => ({ name: 'classify', data })));

    const reads: number[] = [];
    let done = false;
    void finished.then(() => (done = true));
    const deadline = Date.now() + 120_000 + items.length * 5;
    while (!done && Date.now() < deadline) {
      const r0 = performance.now();
      await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'failed')));
      if (!done) reads.push(performance.now() - r0);
      await Promise.race([finished, sleep(PROGRESS_EVERY_MS)]);
    }
    const wallMs = performance.now() - t0;
    if (failure) throw failure;
    if (!done) throw new Error(`${seen.size} of ${items.length} items published before the deadline`);

    // The last publish job completes just after its processor returns: give the queues a moment to drain.
    let leftOver = await jobsLeft(queues);
    for (let i = 0; i < 50 && leftOver > 0; i++) {
      await sleep(100);
      leftOver = await jobsLeft(queues);
    }
    return {
      items: items.length,
      wallMs,
      published: [...seen.values()].filter((n) => n === 1).length,
      duplicates: [...seen.values()].filter((n) => n > 1).length,
      leftOver,
      progress: { p50: percentile(reads, 50), p99: percentile(reads, 99), n: reads.length },
    };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await Promise.all(queues.map((q) => q.close()));
  }
}
