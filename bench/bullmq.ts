/**
 * The BullMQ peer as a bench row: its own redis-server (bench/redis.ts), the flow in a child
 * process (bench/bullmq-main.ts, so its peak RSS is the flow's alone), redis's RSS sampled beside
 * it, and every item checked to reach the end of publish exactly once. No redis-server on PATH is
 * a skipped row, never a failure: the peer is a comparison, not part of batchflow.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FlowResult } from './bullmq-flow';
import { spawnEntry } from './child';
import { rssOf, samplePeaks } from './measure';
import { onPath, startRedis } from './redis';
import type { Row } from './report';

const TAIL_LINES = 40;

export async function runBullmq(scenario: string, items: number): Promise<Row> {
  const row: Row = { scenario, system: 'BullMQ', items, chunking: 'per item, concurrency 8 per stage', wallMs: NaN, ok: false };
  const redisServer = onPath('redis-server');
  if (!redisServer) return { ...row, ok: true, skipped: 'skipped: redis-server not found' };

  const redis = await startRedis(redisServer);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-bench-bullmq-'));
  const resultFile = path.join(dir, 'result.json');
  try {
    const redisRss = samplePeaks({ redis: () => rssOf(redis.pid) });
    const env = { ...process.env, REDIS_PORT: String(redis.port), BENCH_ITEMS: String(items), BENCH_RESULT_FILE: resultFile };
    const flow = spawnEntry('bullmq', 'bench/bullmq-main.ts', env, TAIL_LINES);
    const code = await new Promise<number | null>((resolve) => flow.child.once('exit', (c) => resolve(c)));
    const peaks = redisRss.stop();
    if (code !== 0 || !fs.existsSync(resultFile)) return { ...row, problem: `the flow exited ${code}: ${flow.lines.join('\n')}` };

    const r = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as FlowResult & { peakRss: number };
    const problems: string[] = [];
    if (r.published !== items) problems.push(`${r.published} of ${items} items published exactly once`);
    if (r.duplicates > 0) problems.push(`${r.duplicates} items published more than once`);
    if (r.leftOver > 0) problems.push(`${r.leftOver} jobs left in the queues`);
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
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
