/**
 * The worker container's health check (docker-compose.yml): healthy while this container's worker
 * polls its task queue, i.e. Temporal lists it among the queue's pollers. In the container the
 * worker is PID 1, so its identity (the SDK's `pid@hostname`) is `1@<hostname>`. It connects as
 * the worker does (src/temporal/connection.ts: TLS, mTLS or an API key), and exits 0 or 1.
 */
import os from 'node:os';
import { Client } from '@temporalio/client';
import { loadConfig } from '../config';
import { configuredTarget, connectClientConnection } from '../temporal/connection';

const WORKER_PID = Number(process.env.WORKER_HEALTH_PID ?? 1);

async function main(): Promise<boolean> {
  const config = loadConfig();
  const target = configuredTarget(config.temporal);
  const connection = await connectClientConnection(target, { connectTimeoutMs: 5_000 });
  try {
    const client = new Client({ connection, namespace: target.namespace });
    const queue = await client.workflowService.describeTaskQueue({
      namespace: target.namespace,
      taskQueue: { name: config.temporal.taskQueue },
      // Activity pollers: a worker that runs chunks.
      taskQueueType: 2,
    });
    return queue.pollers.some((p) => p.identity === `${WORKER_PID}@${os.hostname()}`);
  } finally {
    await connection.close();
  }
}

main().then(
  (polling) => process.exit(polling ? 0 : 1),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
