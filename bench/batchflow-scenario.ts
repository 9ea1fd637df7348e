/** batchflow's rows: one batch through the real API and workers, checked item by item; and the submit latency. */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { devServerRss, percentile, runHistories, samplePeaks } from './measure';
import { benchItems } from './items';
import { servedReads, servedSince } from './served';
import type { SlowTarget } from './publish-target';
import type { Row } from './report';
import { describeChunking, type Chunking } from './scenarios';
import type { BenchStack } from './stack';

export const SUBMIT_BODY_ITEMS = 50_000;

/** A submit body; without `chunking`, no chunk_size or max_parallel_chunks: batchflow picks them. */
function body(items: number, prefix: string, chunking?: Chunking): string {
  return JSON.stringify({
    items: benchItems(items, prefix),
    ...(chunking ? { chunk_size: chunking.chunkSize, max_parallel_chunks: chunking.maxParallel } : {}),
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The progress reader (./reader.ts) in a process of its own, ready to be told what to read. */
async function startReader(): Promise<ChildProcess> {
  const reader = fork(path.join(__dirname, 'reader.ts'), [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  await bounded(
    new Promise<void>((resolve, reject) => {
      reader.once('message', () => resolve());
      reader.once('exit', (code) => reject(new Error(`the reader exited ${code} before it was ready`)));
    }),
    'the reader to start',
  ).catch((err: unknown) => {
    reader.kill();
    throw err;
  });
  return reader;
}

/** The reader's start and its last read (30 s at most, bench/reader.ts) are far within this. */
const READER_WAIT_MS = 60_000;
async function bounded<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`waited ${READER_WAIT_MS} ms for ${what}`)), READER_WAIT_MS)),
  );
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Stops the reader and answers the latencies of its reads (ms). */
async function stopReader(reader: ChildProcess): Promise<number[]> {
  const answer = new Promise<{ latencies?: number[]; error?: string }>((resolve) => reader.once('message', resolve));
  reader.send('stop');
  const { latencies, error } = await bounded(answer, "the reader's latencies");
  if (error) throw new Error(`the progress reader failed: ${error}`);
  return latencies ?? [];
}

export interface BatchflowScenario {
  name: string;
  items: number;
  publishDelayMs: number;
  chunking?: Chunking;
}

/** One batch of `s.items` through `stack`, checked item by item against the database and the target. */
export async function runBatchflow(stack: BenchStack, target: SlowTarget, s: BatchflowScenario): Promise<Row> {
  const row: Row = {
    scenario: s.name,
    system: 'batchflow',
    items: s.items,
    chunking: s.chunking ? describeChunking(s.chunking) : 'defaults',
    wallMs: NaN,
    ok: false,
  };
  target.delayMs = s.publishDelayMs;
  // The embedded stack measures its own dev server; the bench's is idle then.
  const devServer = samplePeaks({ devServer: stack.mode === 'embedded' ? () => 0 : devServerRss() });
  const usage = await stack.measure();
  const reader = await startReader();
  const servedBefore = await servedReads(stack.baseUrl);
  try {
    const payload = body(s.items, s.name, s.chunking);
    const t0 = performance.now();
    const res = await stack.api('/v1/batches', { method: 'POST', body: payload });
    const submitted = (await res.json()) as { batch_id: string; workflow_id: string; options: Record<string, unknown> };
    if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${JSON.stringify(submitted)}`);
    // At the defaults, the submit's answer says what batchflow chose.
    if (!s.chunking) row.chunking = `defaults: ${submitted.options.chunk_size} / ${submitted.options.max_parallel_chunks}`;
    const done = stack.client.workflow.getHandle(submitted.workflow_id).result();
    let finished = false;
    void done.finally(() => (finished = true)).catch(() => undefined);

    // Progress reads while it runs: what a client polling the batch sees, from a process of its own.
    reader.send({ url: `${stack.baseUrl}/v1/batches/${submitted.batch_id}`, key: stack.key });
    const deadline = Date.now() + 120_000 + s.items * 15 + s.publishDelayMs * s.items;
    while (!finished && Date.now() < deadline) await sleep(50);
    const reads = await stopReader(reader);
    const served = servedSince(servedBefore, await servedReads(stack.baseUrl));
    if (!finished) throw new Error(`batch ${submitted.batch_id} did not finish in time`);
    await done;
    const wallMs = performance.now() - t0;
    const used = await usage.stop();

    const view = (await (await stack.api(`/v1/batches/${submitted.batch_id}`)).json()) as {
      status: string;
      counts: Record<string, number>;
    };
    const problems: string[] = [];
    if (view.status !== 'completed') problems.push(`status ${view.status} ${JSON.stringify(view.counts)}`);
    if (stack.db) {
      const rows = await stack.db
        .selectFrom('item_results')
        .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.count<number>('ref').distinct().as('refs')])
        .where('batch_id', '=', submitted.batch_id)
        .where('status', '=', 'succeeded')
        .where('published', '=', true)
        .executeTakeFirstOrThrow();
      if (Number(rows.n) !== s.items) problems.push(`${rows.n} of ${s.items} items succeeded and published`);
      if (Number(rows.refs) !== Number(rows.n)) problems.push(`${rows.n} results for ${rows.refs} distinct refs (duplicates)`);
    } else if (view.counts.published !== s.items) {
      // PGlite is the embedded process's own: the batch's counts stand for the rows.
      problems.push(`${view.counts.published} of ${s.items} items published ${JSON.stringify(view.counts)}`);
    }
    const created = target.createdFor(submitted.batch_id);
    if (created !== s.items) problems.push(`the target holds ${created} items of this batch, not ${s.items}`);

    const runs = await runHistories(stack.client, submitted.workflow_id);
    const largest = runs.reduce((a, r) => (r.events > a.events ? r : a), runs[0]!);
    return {
      ...row,
      wallMs,
      progress: { p50: percentile(reads, 50), p99: percentile(reads, 99), n: reads.length, served },
      rss: { ...used.rss, ...(stack.mode === 'embedded' ? (devServer.stop(), {}) : { 'dev server': devServer.stop().devServer }) },
      peakFrom: used.peakFrom,
      statements: used.statements,
      history: { runs: runs.length, events: largest.events, bytes: largest.bytes },
      ok: problems.length === 0,
      problem: problems.join('; ') || undefined,
    };
  } catch (err) {
    devServer.stop();
    await usage.stop().catch(() => undefined);
    return { ...row, problem: (err as Error).message };
  } finally {
    if (reader.exitCode === null) reader.kill();
  }
}

export interface SubmitLatency {
  p50: number;
  p99: number;
  n: number;
  mb: number;
  /** Peak RSS of the API process over the submits (process mode only). */
  apiRss?: number;
}

/** Several submits of a 50,000-item body to an API with no worker: the batches start and wait. */
export async function submitLatency(stack: BenchStack, times: number): Promise<SubmitLatency> {
  const usage = await stack.measure();
  const took: number[] = [];
  let mb = 0;
  for (let i = 0; i < times; i++) {
    const payload = body(SUBMIT_BODY_ITEMS, `submit${i}`, { chunkSize: 100, maxParallel: 8 });
    mb = payload.length / 1e6;
    const t0 = performance.now();
    const res = await stack.api('/v1/batches', { method: 'POST', body: payload });
    await res.arrayBuffer();
    took.push(performance.now() - t0);
    if (res.status !== 202) throw new Error(`submit answered ${res.status}`);
  }
  const used = await usage.stop();
  return {
    p50: percentile(took, 50),
    p99: percentile(took, 99),
    n: took.length,
    mb,
    apiRss: stack.mode === 'processes' ? used.rss.API : undefined,
  };
}
