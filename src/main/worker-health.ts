/**
 * The worker container's health check (docker-compose.yml): healthy while this container's worker
 * polls its task queue, i.e. Temporal lists its identity among the queue's pollers. It reads the
 * worker's own settings (WORKER_IDENTITY, else `batchflow-worker@<hostname>`, the container's),
 * connects as the worker does (src/temporal/connection.ts: TLS, mTLS or an API key), and exits 0
 * or 1.
 */
import { Client } from '@temporalio/client';
import { loadConfig } from '../config';
import { configuredTarget, connectClientConnection } from '../temporal/connection';

const DEADLINE_MS = 4_000;

async function main(): Promise<boolean> {
  const config = loadConfig();
  const target = configuredTarget(config.temporal);
  const connection = await connectClientConnection(target, { connectTimeoutMs: DEADLINE_MS });
  try {
    const client = new Client({ connection, namespace: target.namespace });
    // Within compose's 10 s health-check timeout, whatever Temporal does.
    const queue = await client.withDeadline(Date.now() + DEADLINE_MS, () =>
      client.workflowService.describeTaskQueue({
        namespace: target.namespace,
        taskQueue: { name: config.temporal.taskQueue },
        // Activity pollers: a worker that runs chunks.
        taskQueueType: 2,
      }),
    );
    return queue.pollers.some((p) => p.identity === config.workerIdentity);
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
