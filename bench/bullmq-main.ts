/**
 * The BullMQ peer's own process (started by bench/bullmq.ts): runs the flow of bench/bullmq-flow.ts
 * against REDIS_PORT with BENCH_ITEMS items and writes the result, with this process's peak RSS,
 * as JSON to BENCH_RESULT_FILE.
 */
import fs from 'node:fs';
import { runFlow } from './bullmq-flow';
import { benchItems } from './items';

async function main(): Promise<void> {
  const port = Number(process.env.REDIS_PORT);
  const count = Number(process.env.BENCH_ITEMS);
  const result = await runFlow({ host: '127.0.0.1', port }, benchItems(count, 'bullmq'));
  // maxRSS is this process's peak since it started, in KiB.
  fs.writeFileSync(process.env.BENCH_RESULT_FILE!, JSON.stringify({ ...result, peakRss: process.resourceUsage().maxRSS * 1024 }));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
