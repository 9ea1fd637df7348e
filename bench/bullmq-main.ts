/**
 * The BullMQ peer's own process (started by bench/bullmq.ts): runs the flow of bench/bullmq-flow.ts
 * against REDIS_PORT with BENCH_ITEMS items and writes the result, with this process's peak RSS,
 * as JSON to BENCH_RESULT_FILE. With the work's environment (bench/bullmq-work.ts) its stages do
 * the work; without, nothing.
 */
import fs from 'node:fs';
import { NO_OP, runFlow } from './bullmq-flow';
import { workEnvOf, workStages } from './bullmq-work';
import { benchItems } from './items';

async function main(): Promise<void> {
  const port = Number(process.env.REDIS_PORT);
  const count = Number(process.env.BENCH_ITEMS);
  const workEnv = workEnvOf(process.env);
  const work = workEnv ? workStages(workEnv) : undefined;
  try {
    const result = await runFlow({ host: '127.0.0.1', port }, benchItems(count, 'bullmq'), work?.stages ?? NO_OP);
    // maxRSS is this process's peak since it started, in KiB.
    fs.writeFileSync(process.env.BENCH_RESULT_FILE!, JSON.stringify({ ...result, peakRss: process.resourceUsage().maxRSS * 1024 }));
  } finally {
    await work?.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
