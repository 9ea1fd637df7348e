/** Runs the bare baseline workflow (bench/baseline-workflow.ts) on a worker and bundle of its own. */
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { DevServer } from '../src/temporal/dev-server';
import { baselineActivities } from './baseline-activities';
import { baselineWorkflow } from './baseline-workflow';
import { devServerRss, runHistories, samplePeaks } from './measure';
import type { Row } from './report';

const silent = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: console.warn,
  error: console.error,
};

export const bundleBaseline = (): Promise<WorkflowBundleWithSourceMap> =>
  bundleWorkflowCode({ workflowsPath: require.resolve('./baseline-workflow'), logger: silent });

export interface BaselineResult {
  wallMs: number;
  workflowId: string;
}

/** Same slots as the batch worker's normal queue (32), same chunking as the batches. */
export async function runBaseline(
  server: DevServer,
  bundle: WorkflowBundleWithSourceMap,
  total: number,
  chunkSize: number,
  maxParallel: number,
): Promise<BaselineResult & { client: Client; close(): Promise<void> }> {
  const taskQueue = `bench-baseline-${randomBytes(6).toString('hex')}`;
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: server.namespace,
    taskQueue,
    workflowBundle: bundle,
    activities: baselineActivities,
    maxConcurrentActivityTaskExecutions: 32,
  });
  const running = worker.run();
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  const workflowId = `baseline-${total}-${randomBytes(4).toString('hex')}`;
  const t0 = performance.now();
  await client.workflow.execute(baselineWorkflow, { taskQueue, workflowId, args: [{ total, chunkSize, maxParallel }] });
  const wallMs = performance.now() - t0;
  return {
    wallMs,
    workflowId,
    client,
    close: async () => {
      worker.shutdown();
      await running;
      await connection.close();
      await nativeConnection.close();
    },
  };
}

/** A bare row: the baseline workflow once, with its history size and the dev server's peak RSS. */
export async function runBare(
  server: DevServer,
  bundle: WorkflowBundleWithSourceMap,
  s: { name: string; items: number; chunking: { chunkSize: number; maxParallel: number } },
): Promise<Row> {
  const devServer = samplePeaks({ devServer: devServerRss() });
  const b = await runBaseline(server, bundle, s.items, s.chunking.chunkSize, s.chunking.maxParallel);
  const rss = devServer.stop();
  try {
    const runs = await runHistories(b.client, b.workflowId);
    const largest = runs.reduce((a, r) => (r.events > a.events ? r : a), runs[0]!);
    return {
      scenario: s.name,
      system: 'bare Temporal',
      items: s.items,
      chunking: `${s.chunking.chunkSize} / ${s.chunking.maxParallel}`,
      wallMs: b.wallMs,
      rss: { 'dev server': rss.devServer },
      history: { runs: runs.length, events: largest.events, bytes: largest.bytes },
      ok: true,
    };
  } finally {
    await b.close();
  }
}
