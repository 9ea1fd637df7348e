/**
 * The bench's bare baseline: the same chunking as a batch (chunks of `chunkSize`, `maxParallel`
 * in flight, three activities per chunk, continue-as-new on the server's suggestion) with no
 * batchflow logic and no-op activities. Its time is the ceiling this dev server and worker allow.
 * Bundled on its own (bench/baseline.ts), never part of the service's workflows.
 */
import * as wf from '@temporalio/workflow';
import type { BaselineActivities } from './baseline-activities';

export interface BaselineInput {
  total: number;
  chunkSize: number;
  maxParallel: number;
  nextChunk?: number;
}

const { first, second, third } = wf.proxyActivities<BaselineActivities>({ startToCloseTimeout: '1 minute' });

/** The same guard the batch workflow has: continue-as-new here whatever the server suggests. */
const HISTORY_SOFT_LIMIT = 5_000;

export async function baselineWorkflow(input: BaselineInput): Promise<number> {
  const chunks = Math.ceil(input.total / input.chunkSize);
  let next = input.nextChunk ?? 0;
  const running = new Set<Promise<void>>();
  const tooLong = (): boolean => wf.workflowInfo().continueAsNewSuggested || wf.workflowInfo().historyLength > HISTORY_SOFT_LIMIT;

  while (next < chunks && !tooLong()) {
    const chunk = next++;
    const range = { from: chunk * input.chunkSize, to: Math.min(input.total, (chunk + 1) * input.chunkSize) };
    const p = (async () => {
      await first(range);
      await second(range);
      await third(range);
    })();
    running.add(p);
    void p.finally(() => running.delete(p));
    if (running.size >= input.maxParallel) await Promise.race(running);
  }
  await Promise.all(running);
  if (next < chunks) await wf.continueAsNew<typeof baselineWorkflow>({ ...input, nextChunk: next });
  return chunks;
}
