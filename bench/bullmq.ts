/**
 * The BullMQ peer as a bench row: its own redis-server (bench/redis.ts), the flow in a child
 * process (bench/bullmq-main.ts, so its peak RSS is the flow's alone), redis's RSS sampled beside
 * it, and every item checked to reach the end of publish exactly once. No redis-server on PATH is
 * a skipped row, never a failure: the peer is a comparison, not part of batchflow. With `target`,
 * the row with the work in its stages (bench/bullmq-work.ts): it needs PostgreSQL (DATABASE_URL,
 * else skipped too), publishes to `target`, and is also checked by the target's keys and its table.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FlowResult } from './bullmq-flow';
import { openWorkTable, toEnv, type WorkTable } from './bullmq-work';
import { spawnEntry } from './child';
import { rssOf, samplePeaks } from './measure';
import type { SlowTarget } from './publish-target';
import { onPath, startRedis } from './redis';
import type { Row } from './report';

const TAIL_LINES = 40;

/** What the bench found after the flow, beside the flow's own count: the work row's target keys and table rows. */
export interface WorkCheck {
  published: number;
  rows: number;
}

/** Everything wrong with a finished flow of `items` items; empty when each item went through once and nothing is left. */
export function flowProblems(r: Pick<FlowResult, 'published' | 'duplicates' | 'leftOver'>, items: number, work?: WorkCheck): string[] {
  const problems: string[] = [];
  if (r.published !== items) problems.push(`${r.published} of ${items} items published exactly once`);
  if (r.duplicates > 0) problems.push(`${r.duplicates} items published more than once`);
  if (r.leftOver > 0) problems.push(`${r.leftOver} jobs left in the queues`);
  if (work && work.published !== items) problems.push(`the target holds ${work.published} items of this run, not ${items}`);
  if (work && work.rows !== items) problems.push(`the table holds ${work.rows} ingested items, not ${items}`);
  return problems;
}

export async function runBullmq(scenario: string, items: number, target?: SlowTarget): Promise<Row> {
  const chunking = `per item, concurrency 8 per stage${target ? '; classify, one INSERT, one POST per item' : ''}`;
  const row: Row = { scenario, system: 'BullMQ', items, chunking, wallMs: NaN, ok: false };
  const redisServer = onPath('redis-server');
  if (!redisServer) return { ...row, ok: true, skipped: 'skipped: redis-server not found' };
  const databaseUrl = process.env.DATABASE_URL;
  if (target && !databaseUrl) return { ...row, ok: true, skipped: 'skipped: DATABASE_URL not set (its ingest writes to PostgreSQL)' };

  const runId = `${scenario}-${randomBytes(4).toString('hex')}`;
  const redis = await startRedis(redisServer);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-bench-bullmq-'));
  const resultFile = path.join(dir, 'result.json');
  let table: WorkTable | undefined;
  try {
    if (target) target.delayMs = 0;
    if (target) table = await openWorkTable(databaseUrl!);
    const redisRss = samplePeaks({ redis: () => rssOf(redis.pid) });
    const env = {
      ...process.env,
      REDIS_PORT: String(redis.port),
      BENCH_ITEMS: String(items),
      BENCH_RESULT_FILE: resultFile,
      ...(target && table ? toEnv({ databaseUrl: databaseUrl!, table: table.table, publishUrl: target.url, runId }) : {}),
    };
    const flow = spawnEntry('bullmq', 'bench/bullmq-main.ts', env, TAIL_LINES);
    const code = await new Promise<number | null>((resolve) => flow.child.once('exit', (c) => resolve(c)));
    const peaks = redisRss.stop();
    if (code !== 0 || !fs.existsSync(resultFile)) return { ...row, problem: `the flow exited ${code}: ${flow.lines.join('\n')}` };

    const r = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as FlowResult & { peakRss: number };
    const work = target && table ? { published: target.createdFor(runId), rows: await table.rows() } : undefined;
    const problems = flowProblems(r, items, work);
    return {
      ...row,
      wallMs: r.wallMs,
      progress: r.progress,
      rss: { node: r.peakRss, redis: peaks.redis },
      ok: problems.length === 0,
      problem: problems.join('; ') || undefined,
    };
  } finally {
    await redis.stop();
    await table?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
